-- Where each node's edge answers, as its agent last announced it: the
-- address its peers and berthd probe its sites at, also while it is down.
ALTER TABLE nodes ADD COLUMN edge_address TEXT;
