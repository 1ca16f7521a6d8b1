// ort_bench.js: ONNX Runtime (onnxruntime-node, CPU) on one thread, for
// bench-ort.sh. onnxruntime-node is found through NODE_PATH.
//
//   node ort_bench.js time MODEL.onnx [RUNS] [WARMUP]
//       times batch-1 session.run on one random 1x3x64x64 input after
//       WARMUP runs (default 100) and prints one JSON object: median and
//       best of RUNS (default 1000) in µs;
//   node ort_bench.js run MODEL.onnx INPUTS.f32
//       runs each 1x3x64x64 float32 (little-endian, NCHW) input in the file,
//       batch 1, and prints {"outputs": [[...], ...]}.
//
// The session: one intra-op and one inter-op thread, sequential execution,
// all graph optimisations (ORT_ENABLE_ALL: constant folding, Conv+ReLU
// fusion, NCHWc layouts for MLAS), the CPU execution provider.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

const SHAPE = [1, 3, 64, 64];
const N = SHAPE.reduce((a, b) => a * b, 1);

const options = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

function die(msg) {
  process.stderr.write(`ort_bench: ${msg}\n`);
  process.exit(1);
}

async function session(path) {
  try {
    return await ort.InferenceSession.create(path, options);
  } catch (e) {
    die(`${path}: ${e.message}`);
  }
}

function feeds(s, data) {
  return { [s.inputNames[0]]: new ort.Tensor('float32', data, SHAPE) };
}

async function time(path, runs, warmup) {
  const s = await session(path);
  const x = new Float32Array(N);
  let seed = 1;
  for (let i = 0; i < N; i++) {
    // A fixed pseudo-random input in [-2, 2).
    seed = (seed * 1103515245 + 12345) >>> 0;
    x[i] = (seed / 2 ** 32) * 4 - 2;
  }
  const f = feeds(s, x);
  for (let i = 0; i < warmup; i++) await s.run(f);
  const t = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await s.run(f);
    t[i] = Number(process.hrtime.bigint() - t0) / 1e3;
  }
  t.sort();
  const median = runs % 2 ? t[(runs - 1) / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
  return {
    model: path,
    onnxruntime: require('onnxruntime-node/package.json').version,
    node: process.version,
    runs,
    warmup,
    median_us: median,
    best_us: t[0],
  };
}

async function run(path, inputs) {
  const s = await session(path);
  const buf = fs.readFileSync(inputs);
  if (buf.length === 0 || buf.length % (4 * N) !== 0) {
    die(`${inputs}: ${buf.length} bytes, not a whole number of 1x3x64x64 float32 inputs`);
  }
  const outputs = [];
  for (let off = 0; off < buf.length; off += 4 * N) {
    const x = new Float32Array(N);
    for (let i = 0; i < N; i++) x[i] = buf.readFloatLE(off + 4 * i);
    const r = await s.run(feeds(s, x));
    outputs.push(Array.from(r[s.outputNames[0]].data));
  }
  return { outputs };
}

async function main() {
  const [cmd, path, ...rest] = process.argv.slice(2);
  let out;
  if (cmd === 'time' && path) {
    const runs = rest[0] ? parseInt(rest[0], 10) : 1000;
    const warmup = rest[1] ? parseInt(rest[1], 10) : 100;
    if (!(runs > 0) || !(warmup >= 0)) die(`runs ${rest[0]}, warm-up ${rest[1]}: want positive numbers`);
    out = await time(path, runs, warmup);
  } else if (cmd === 'run' && path && rest.length === 1) {
    out = await run(path, rest[0]);
  } else {
    die('usage: node ort_bench.js time MODEL.onnx [RUNS] [WARMUP] | run MODEL.onnx INPUTS.f32');
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => die(e.stack || String(e)));
