// llama.cpp's prompt processing and decode speed on a GGUF file, measured as
// cerulean bench measures the built-in engine: one batched pass over a prompt
// of random token ids, then single-token passes. It uses the llama.cpp build
// that node-llama-cpp ships (its CPU backend picks the best variant for this
// CPU; LLAMA_CPU_VARIANT=haswell runs the AVX2 one, to compare with
// `cerulean bench --kernels avx2`).
//
//	npm install --omit=optional --ignore-scripts --no-package-lock   (once, in this folder)
//	node bench.mjs FILE.gguf [prompt 512] [gen 64] [threads 2]
//
// It prints one JSON line: load seconds, prompt tokens/s, generated tokens/s
// (greedy sampling through node-llama-cpp's generator) and eval tokens/s
// (gen single-token passes without sampling, the figure to set against
// cerulean bench's decode).
import {mkdirSync, readdirSync, renameSync} from "node:fs";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";

const [modelPath, promptArg, genArg, threadsArg] = process.argv.slice(2);
if (!modelPath) {
  console.error("usage: node bench.mjs FILE.gguf [prompt] [gen] [threads]");
  process.exit(2);
}
const promptN = Number(promptArg ?? 512), genN = Number(genArg ?? 64), threads = Number(threadsArg ?? 2);

// LLAMA_CPU_VARIANT: run with one CPU backend variant only: the others are
// moved aside in the installed package while the benchmark runs, and back
// after it.
const variant = process.env.LLAMA_CPU_VARIANT;
const moved = [];
const restore = () => {
  for (const [from, to] of moved.splice(0)) renameSync(to, from);
};
if (variant) {
  const bins = join(dirname(fileURLToPath(import.meta.url)), "node_modules", "@node-llama-cpp", "linux-x64", "bins");
  process.on("exit", restore);
  for (const sub of readdirSync(bins)) {
    const dir = join(bins, sub), aside = join(dir, "aside");
    const libs = readdirSync(dir).filter((f) => f.startsWith("libggml-cpu-") && f.endsWith(".so"));
    if (!libs.includes(`libggml-cpu-${variant}.so`)) {
      console.error(`no CPU variant ${variant} in ${dir}: ${libs.join(", ")}`);
      process.exit(2);
    }
    mkdirSync(aside, {recursive: true});
    for (const f of libs) {
      if (f !== `libggml-cpu-${variant}.so`) {
        renameSync(join(dir, f), join(aside, f));
        moved.push([join(dir, f), join(aside, f)]);
      }
    }
  }
}

const {getLlama, LlamaLogLevel} = await import("node-llama-cpp");
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.warn});
const t0 = performance.now();
const model = await llama.loadModel({modelPath, useMmap: true});
const loadS = (performance.now() - t0) / 1000;
const context = await model.createContext({contextSize: promptN + genN + 8, threads, batchSize: promptN, sequences: 1, flashAttention: false});
const seq = context.getSequence();

// Random ids, as cerulean bench's prompt.
const tokens = [];
let s = 12345;
for (let i = 0; i < promptN; i++) {
  s = (s * 1103515245 + 12345) >>> 0;
  tokens.push(3 + (s % 40000));
}
const tp0 = performance.now();
await seq.evaluateWithoutGeneratingNewTokens(tokens);
const promptS = (performance.now() - tp0) / 1000;

let n = 0;
const tg0 = performance.now();
for await (const _ of seq.evaluate([tokens[tokens.length - 1]], {temperature: 0})) {
  if (++n >= genN) break;
}
const genS = (performance.now() - tg0) / 1000;

await seq.eraseContextTokenRanges([{start: promptN, end: seq.nextTokenIndex}]);
const te0 = performance.now();
for (let i = 0; i < genN; i++) await seq.evaluateWithoutGeneratingNewTokens([tokens[i]]);
const evalS = (performance.now() - te0) / 1000;

console.log(JSON.stringify({
  model: modelPath, threads, cpu_variant: variant ?? "best",
  load_seconds: loadS, prompt_tokens: promptN, prompt_tokens_per_second: promptN / promptS,
  gen_tokens: n, gen_tokens_per_second: n / genS, eval_tokens_per_second: genN / evalS,
}));
await context.dispose();
await model.dispose();
restore();
