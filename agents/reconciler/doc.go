// Package reconciler makes the node's Docker engine run what the control
// plane wants. It is level-triggered, in the manner of controller-runtime:
//
//	desired state ──Apply──▶ queue of site ids ◀── resync (every 30 s): all
//	                              │                  desired ids and every
//	                              ▼                  berth-labelled orphan
//	                    workers: reconcile(site id)
//	                    compare desired spec with the containers, networks,
//	                    volumes and release the engine has; converge; report
//
// A reconcile reads everything it needs from the engine each time, so it is
// idempotent: killing the agent at any point and starting it again converges
// with no duplicates and no leftovers. Errors are retried with backoff;
// terminal ones (a missing image, an invalid spec) are reported as FAILED
// with a message that says what to do.
//
// Glossary: a site's resources on the node are its network berth-<id>, its
// container berth-<id>, for WordPress its wp-content volume and its database
// and user on the node's shared MariaDB, and for static sites its release
// directory DATA/sites/<id>. The node's MariaDB is the container, network
// and data volume berth-mariadb-<node id> (-data for the volume), labelled
// with the node like everything else, so that agents sharing an engine never
// share it; it answers as berth-mariadb on every WordPress site's network.
// A node that ran its MariaDB as berth-mariadb before names were per node
// keeps that one, and its data; DATA/mariadb.json records which the node uses.
package reconciler
