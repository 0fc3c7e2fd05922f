// Zero-downtime restarts with berth's [serve] proxy mode: this is a plain server binding its
// own port. berth gives each instance an address of its own (BERTH_HOST) and relays
// connections from the port it holds to the instance serving now.
const http = require("http");

const server = http.createServer((req, res) => {
  res.end(`hello from pid ${process.pid}\n`);
});

server.listen(Number(process.env.PORT || 8080), process.env.BERTH_HOST || "127.0.0.1", () =>
  console.log(`serving as pid ${process.pid} on ${process.env.BERTH_HOST}:${process.env.PORT}`),
);

// berth sends SIGTERM once the new instance serves and this one has taken every connection
// sent to it: stop accepting, finish what is in hand.
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
