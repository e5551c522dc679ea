// Runs nsfwjs' InceptionV3 (model.min.js + shard .min.js files, exactly as nsfwjs loads them) in TensorFlow.js
// (pure-JS CPU backend) on given input tensors and writes the outputs of chosen layers: the independent
// reference NsfwjsInceptionImportIT compares the Java import against.
//
// usage: node tfjs-reference.cjs <model dir> <input.f32> <n> <size> <output.f32> <layer> [<layer> ...]
// input: n x size x size x 3 float32 little-endian (NHWC, already x/255); output: each layer's output flattened
// (NHWC / NC) one after the other, float32 little-endian; the shapes go to stdout as one JSON line.
const path = require('path');
const fs = require('fs');
const tf = require('@tensorflow/tfjs');

// nsfwjs' package.json says "type": "module", so its browserify bundles cannot be require()d from an unpacked
// copy: run each as the CommonJS module it is written as.
function loadBundle(file) {
  const module = {exports: {}};
  new Function('module', 'exports', 'require', fs.readFileSync(file, 'utf8'))(module, module.exports, require);
  return module.exports;
}

async function main() {
  const [modelDir, inputFile, n, size, outputFile, ...layers] = process.argv.slice(2);
  if (!layers.length) {
    throw new Error('usage: node tfjs-reference.cjs <model dir> <input.f32> <n> <size> <output.f32> <layer>...');
  }
  await tf.setBackend('cpu');
  const modelJson = loadBundle(path.resolve(modelDir, 'model.min.js'));
  const weightSpecs = [];
  const shards = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) {
      shards.push(Buffer.from(loadBundle(path.resolve(modelDir, p + '.min.js')), 'base64'));
    }
    weightSpecs.push(...group.weights);
  }
  const data = Buffer.concat(shards);
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: modelJson.modelTopology, weightSpecs, weightData}));
  const probe = tf.model({inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output)});
  const raw = fs.readFileSync(inputFile);
  const x = tf.tensor4d(new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4),
      [Number(n), Number(size), Number(size), 3]);
  let ys = probe.predict(x);
  if (!Array.isArray(ys)) {
    ys = [ys];
  }
  const parts = [];
  const shapes = {};
  for (let i = 0; i < ys.length; i++) {
    shapes[layers[i]] = ys[i].shape;
    parts.push(Buffer.from((await ys[i].data()).buffer));
  }
  fs.writeFileSync(outputFile, Buffer.concat(parts));
  console.log(JSON.stringify({tfjs: tf.version.tfjs, backend: tf.getBackend(), shapes}));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
