// Package staticserver serves one static site: the files of the release that
// Root/current points to.
//
// The agent deploys a site by unpacking it into Root/releases/<id> and then
// atomically renaming a new symlink over Root/current. The server resolves
// current once per request (os.OpenRoot), so each request is answered
// entirely from one release, and a switch needs neither a restart nor a
// signal.
//
// Every file is opened through an os.Root for the resolved release, so no
// request path and no symlink inside a release can reach a file outside it
// (an absolute symlink is refused too); such requests get a 404. Each file is
// opened once and served from that descriptor, so what is checked is what is
// sent.
//
// URL mapping: "/" and "/dir/" serve index.html; "/about" falls back to
// "/about.html" and then "/about/index.html"; directories are never listed;
// anything else gets the release's 404.html with status 404, or a plain 404.
// Requests are GET and HEAD only.
//
// Responses carry a strong ETag and Last-Modified (conditional requests get
// 304), Vary: Accept-Encoding, X-Content-Type-Options: nosniff and a
// Cache-Control chosen by the kind of file: short for HTML, a year and
// immutable for names with a content hash (app.3f2a9c1b.js), an hour
// otherwise. A client that accepts gzip gets a precompressed "name.gz"
// sibling when the release has one, or else text bodies of 1 KiB and more
// compressed on the fly.
package staticserver
