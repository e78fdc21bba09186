// Benign look-alike: a small Node web app decodes the base64 icons embedded in its bundle into
// its cache dir (/var/cache/shop-api/icons) at start-up, serves them on 127.0.0.1:8080, asks
// itself for one (a start-up self-check) and stops after a few seconds.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const ICONS = {
  'favicon-16.png': 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR4nGMwTptJEmIY1TCqYfhqAABIfDIQXa/+XAAAAABJRU5ErkJggg==',
  'favicon-32.png': 'iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAIAAAD8GO2jAAAAKklEQVR4nGN4F6pEU8QwasGoBaMWjFowasGoBaMWjFowasGoBaMWDBULAHeqlEw8/7X8AAAAAElFTkSuQmCC',
  'warning.svg': 'PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAyNCAyNCI+PHBhdGggZD0iTTEyIDIgMiAyMmgyMHoiIGZpbGw9IiNjMzMiLz48L3N2Zz4=',
};
const CACHE = '/var/cache/shop-api/icons';

fs.mkdirSync(CACHE, { recursive: true });
for (const [name, data] of Object.entries(ICONS)) {
  fs.writeFileSync(path.join(CACHE, name), Buffer.from(data, 'base64'));
}
console.log(`shop-api: ${Object.keys(ICONS).length} icons cached in ${CACHE}`);

const server = http.createServer((req, res) => {
  const name = path.basename(req.url);
  const file = path.join(CACHE, name);
  if (!fs.existsSync(file)) {
    res.writeHead(404);
    res.end('not found\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': name.endsWith('.svg') ? 'image/svg+xml' : 'image/png' });
  res.end(fs.readFileSync(file));
});
server.listen(8080, '127.0.0.1', () => {
  http.get('http://127.0.0.1:8080/favicon-16.png', (res) => {
    console.log(`shop-api: self-check ${res.statusCode}`);
    res.resume();
  });
  setTimeout(() => server.close(), 3000);
});
