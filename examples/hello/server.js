// The smallest useful component: an HTTP server that says hello and shuts down cleanly.
const http = require("http");

const host = process.env.BERTH_HOST || "127.0.0.1";
const port = Number(process.env.PORT || 7371);

const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(`hello from berth component ${process.env.BERTH_COMPONENT || "?"} (pid ${process.pid})\n`);
});

server.listen(port, host, () => console.log(`listening on http://${host}:${port}`));

process.on("SIGTERM", () => {
  console.log("SIGTERM: closing");
  server.close(() => process.exit(0));
});
