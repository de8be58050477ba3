// Package agent is berth-agent's composition root: it only wires the
// node's parts and runs them under one errgroup.
//
//	Run(ctx, cfg, log) = RunWith(…, OpenDocker)      the one seam for tests
//	  1. LoadIdentity (client)       before the engine is opened
//	  2. OpenEngine → Engine         Docker (docker.go); tests pass a fake
//	  3. Join (client), if needed    with Engine.Facts
//	  4. wire: registry, prober (probes.go), client.Session,
//	     Engine.Sites → Sites        reconciler + edge + certificates
//	  5. run: saved desired state first, then the session, the sites, the
//	     prober, metrics and AddrFile
//
//	berthd ──DesiredState──▶ Session ─OnDesired─▶ SaveDesired ─▶ prober.SetAssignments
//	                                                           └▶ Sites.Apply
//	reconciler ─Report─▶ certStatus (adds certificates) ─▶ Session.Report
//	reconciler ─Upstream changed─▶ routes ─▶ edge routes, certificate domains
//
// Files: agent.go (the wiring), docker.go (the real Engine and Sites),
// edge.go (edge and certificate manager, advertised address), routes.go
// (edge routes from the sites and the reconciler), certstatus.go
// (certificates in site statuses), probes.go (the node's prober),
// desired.go (the desired state saved on disk), metrics.go, addrfile.go,
// signals.go (SIGUSR1 renews certificates), config.go.
//
// # Static stability
//
// The last desired state is kept on disk, encrypted (it holds site
// secrets), and applied at start before berthd is reached: with the control
// plane down, the node keeps serving what it was last told to.
package agent
