// Zero-downtime restarts with berth's [serve] socket mode: berth holds the listening socket
// and hands it to every instance as fd 3, so this process never binds a port itself.
const http = require("http");

const server = http.createServer((req, res) => {
  res.end(`hello from pid ${process.pid}\n`);
});

// fd 3 when berth hands a socket over (LISTEN_FDS=1); else bind PORT, to run it by hand.
if (process.env.LISTEN_FDS === "1") server.listen({ fd: 3 });
else server.listen(Number(process.env.PORT || 8080), "127.0.0.1");

server.on("listening", () => console.log(`serving as pid ${process.pid}`));

// berth sends SIGTERM once the replacement is ready: stop accepting, finish what is in hand.
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
