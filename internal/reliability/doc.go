// Package reliability holds saex's fault-injection harness: a TCP proxy
// that can cut or black-hole the database link, and control of a private
// PostgreSQL cluster (stop and restart on the same port). Load comes from
// the repository's one load generator, webtest.Load.
//
// Its tests are the evidence behind docs/reliability.md:
//
//   - TestOutageFailsFastAndRecovers runs in every `go test ./...` (a few
//     seconds): requests during a database outage get fast 503s, the
//     server recovers by itself and acknowledged writes survive.
//   - TestRecordedRun (SAEX_RELIABILITY=1) is the recorded run: the real
//     binary on the demo, 60 s at 32 connections, PostgreSQL stopped for
//     10 s mid-load, and kill -9 during the demo build; it prints the
//     tables docs/reliability.md quotes.
package reliability
