//! The text-line recogniser for handwritten names: PaddleOCR's PP-OCRv6 small recognition
//! network, run in pure Rust by [`rten`]. All rten calls live in this module.
//!
//! The network is an SVTR-style recogniser (Du et al., "SVTR: Scene Text Recognition with a
//! Single Visual Model", IJCAI 2022) trained with CTC (Graves et al., "Connectionist Temporal
//! Classification", ICML 2006): a text line of height 48 goes in, and out come, per column
//! step of 8 pixels, probabilities over 18,710 classes (the CTC blank, 18,708 characters, a
//! space). Decoding those frames into a name is [`crate::fields::names`]'s job.
//!
//! # Input convention
//!
//! `1 × 3 × 48 × W` floats, RGB planes, `(v / 255 − 0.5) / 0.5`, so paper is `+1` and black
//! ink `−1`; `W` any width (PaddleOCR resizes a crop to height 48 keeping its aspect).
//!
//! # Files
//!
//! `assets/models/ppocr/PP-OCRv6_rec_small.onnx` is RapidOCR 3.10.0's ONNX conversion of the
//! model, byte for byte (Apache-2.0, © Baidu / the PaddleOCR authors; `LICENSE` and
//! `NOTICE.md` beside it), and `keys.txt` its character list, which the wheel keeps in the
//! ONNX metadata. `tools/fetch_ppocr_rec.py` reproduces both and checks the sha256. The model
//! is compiled into the library (21 MB), so nothing is read from disk or downloaded at run
//! time, and parsed once per process on first use (well under a second; the unit test that
//! loads it and runs one line takes 0.1 s).

use crate::error::{Error, Result};
use rten::{Model, NodeId, RunOptions, ThreadPool};
use rten_gemm::{GemmExecutor, GemmInputA, GemmInputB, GemmOptions, PackedBMatrix};
use rten_simd::SimdOp;
use rten_tensor::prelude::*;
use rten_tensor::NdTensor;
use rten_vecmath::Softmax;
use std::sync::{Arc, OnceLock};

const ONNX: &[u8] = include_bytes!("../../assets/models/ppocr/PP-OCRv6_rec_small.onnx");
const KEYS: &str = include_str!("../../assets/models/ppocr/keys.txt");

/// Input height the network was trained at.
pub const LINE_HEIGHT: usize = 48;
/// Columns of input per output frame.
pub const FRAME_STRIDE: usize = 8;

/// A loaded text-line network and its classes.
pub struct TextLineModel {
    model: Model,
    input: NodeId,
    output: NodeId,
    /// The output layer run outside the graph, when the network has the bundled one's.
    head: Option<OutputLayer>,
    /// The backbone's depthwise layers run outside the graph, in order, when the network has
    /// the bundled one's (empty: the graph runs them).
    depthwise: Vec<DepthwiseLayer>,
    /// Class `k` (1-based after the blank at 0) is `classes[k]`; `classes[0]` is unused.
    classes: Vec<char>,
}

/// The threads the network runs on (see [`TextLineModel::run_grey`]).
///
/// A batch runs its page workers *inside* this pool ([`LineThread::run`]), so that a worker
/// runs the network inline on its own thread: a rayon worker of another pool that hands the
/// network to this one would, while it waits, steal further pages and nest them on its stack.
#[derive(Clone)]
pub struct LineThread(Arc<ThreadPool>);

impl LineThread {
    /// A new one-thread pool (a worker outside any batch).
    pub fn new() -> LineThread {
        LineThread::with_threads(1)
    }

    /// A pool of `n` threads for a batch's page workers.
    pub fn with_threads(n: usize) -> LineThread {
        LineThread(Arc::new(ThreadPool::with_num_threads(n.max(1))))
    }

    /// Runs `op` in this pool (its rayon calls use the pool's threads).
    pub fn run<R: Send, Op: FnOnce() -> R + Send>(&self, op: Op) -> R {
        self.0.run(op)
    }
}

impl Default for LineThread {
    fn default() -> Self {
        LineThread::new()
    }
}

impl std::fmt::Debug for LineThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineThread")
    }
}

impl std::fmt::Debug for TextLineModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextLineModel").field("classes", &self.classes.len()).finish()
    }
}

/// The network's output layer, a linear map from 120 features a frame to the 18,710 classes
/// and a softmax, run outside rten's graph on weights packed once at load.
///
/// Inside the graph the layer's 120 × 18,710 weights (9 MB) are re-laid out for the gemm
/// kernel at every line: the layer took 2.3 ms of a 96-px line (12 frames, 4.5 MFLOP a
/// frame), 1.3–1.5 ms with the weights packed once (they cost 9 MB of memory for the
/// process). The same kernel (rten-gemm's), the same single pass over the 120 features and
/// the same softmax (rten-vecmath's) as the graph's `MatMul`, `Add` and `Softmax` give the
/// same probabilities bit for bit (`the_output_layer_outside_the_graph_gives_the_same_bits`).
struct OutputLayer {
    /// The `1 × 120 × frames` features the layer reads.
    features: NodeId,
    weights: PackedBMatrix<f32>,
    bias: Vec<f32>,
}

/// The node names of the bundled network's output layer: the features after the last
/// squeeze, the linear layer's weights and bias (PaddleOCR's CTC head, `linear_8`).
const FEATURES: &str = "p2o.pd_op.squeeze.0.0";
const HEAD_WEIGHTS: &str = "linear_8.w_0";
const HEAD_BIAS: &str = "linear_8.b_0";

impl OutputLayer {
    /// The output layer of `model`, when it has the bundled network's node names and shapes;
    /// `None` leaves the whole graph to rten.
    fn find(model: &Model, classes: usize) -> Option<OutputLayer> {
        let features = model.find_node(FEATURES)?;
        let (w, bias) = weights_and_bias(model, HEAD_WEIGHTS, HEAD_BIAS)?;
        let w: NdTensor<f32, 2> = w.try_into().ok()?;
        let bias: NdTensor<f32, 1> = bias.try_into().ok()?;
        if w.size(1) != classes || bias.size(0) != classes {
            return None;
        }
        let weights = GemmExecutor::<f32>::new().prepack_b(w.view());
        Some(OutputLayer { features, weights, bias: bias.to_vec() })
    }

    /// Probabilities from the features (`1 × 120 × frames`), inside the line's pool (see
    /// [`TextLineModel::run_grey`]).
    fn run(&self, features: NdTensor<f32, 3>) -> std::result::Result<LineProbabilities, String> {
        let [_, depth, frames] = features.shape();
        if depth != self.weights.rows() {
            return Err(format!("{depth} features a frame, the output layer takes {}", self.weights.rows()));
        }
        let classes = self.bias.len();
        let mut p = vec![0f32; frames * classes];
        let a = features.slice(0).transposed();
        // An executor is made per line (it picks the kernel, as at load, by the CPU's
        // features): it is not `Send`, and the model lives in a static.
        GemmExecutor::<f32>::new()
            .gemm(&mut p, GemmInputA::Unpacked(a), GemmInputB::Packed(&self.weights), GemmOptions::default())
            .map_err(|e| e.to_string())?;
        for row in p.chunks_exact_mut(classes) {
            for (v, b) in row.iter_mut().zip(&self.bias) {
                *v += b;
            }
            Softmax::new_mut(row).dispatch();
        }
        Ok(LineProbabilities { frames, classes, p })
    }
}

/// The constants named `weights` and `bias` in `model` (a layer's parameters).
fn weights_and_bias(model: &Model, weights: &str, bias: &str) -> Option<(rten::Value, rten::Value)> {
    let (w, b) = (model.find_node(weights)?, model.find_node(bias)?);
    let mut out = model.run(Vec::new(), &[w, b], None).ok()?.into_iter();
    Some((out.next()?, out.next()?))
}

/// One of the backbone's 3 × 3 depthwise layers, run outside rten's graph by
/// [`super::depthwise`] (rten's depthwise kernel is scalar: the 13 layers were a fifth of a
/// line's time). The graph runs from one such layer's output to the next one's input; the
/// values are the graph's bit for bit (`the_layers_outside_the_graph_give_the_same_bits`).
struct DepthwiseLayer {
    /// The value the layer reads.
    input: NodeId,
    /// The value its output is, bias added: where the graph takes over again.
    output: NodeId,
    stride_h: usize,
    /// `channels × 3 × 3`.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// The bundled network's depthwise 3 × 3 layers (input, weights, bias, output after the bias,
/// vertical stride), in the order the graph runs them. Each input is read by its layer alone.
/// Values are named by the operator that computes them: rten drops the `Identity` copies the
/// ONNX export puts after each (`p2o.pd_op.add.10.0` is `Add.23`'s).
const DEPTHWISE: [(&str, &str, &str, &str, usize); 13] = [
    ("p2o.pd_op.relu.4.0", "conv2d_74.w_0", "p2o.pd_op.reshape.5.0", "Add.11", 1),
    ("Add.23", "conv2d_78.w_0", "p2o.pd_op.reshape.10.0", "Add.25", 1),
    ("Add.33", "conv2d_82.w_0", "p2o.pd_op.reshape.13.0", "Add.35", 1),
    ("Add.43", "conv2d_85.w_0", "p2o.pd_op.reshape.16.0", "Add.45", 2),
    ("Add.51", "conv2d_89.w_0", "p2o.pd_op.reshape.19.0", "Add.53", 1),
    ("Add.65", "conv2d_93.w_0", "p2o.pd_op.reshape.24.0", "Add.67", 1),
    ("Add.75", "conv2d_97.w_0", "p2o.pd_op.reshape.27.0", "Add.77", 1),
    ("Add.89", "conv2d_101.w_0", "p2o.pd_op.reshape.32.0", "Add.91", 1),
    ("Add.99", "conv2d_105.w_0", "p2o.pd_op.reshape.35.0", "Add.101", 1),
    ("Add.113", "conv2d_109.w_0", "p2o.pd_op.reshape.40.0", "Add.115", 1),
    ("Add.123", "conv2d_112.w_0", "p2o.pd_op.reshape.43.0", "Add.125", 2),
    ("Add.131", "conv2d_116.w_0", "p2o.pd_op.reshape.46.0", "Add.133", 1),
    ("Add.145", "conv2d_120.w_0", "p2o.pd_op.reshape.51.0", "Add.147", 1),
];

impl DepthwiseLayer {
    /// The bundled network's depthwise layers in `model`, all or none (`None` when a name or
    /// shape differs: the graph then runs them).
    fn find_all(model: &Model) -> Option<Vec<DepthwiseLayer>> {
        DEPTHWISE
            .iter()
            .map(|&(input, weights, bias, output, stride_h)| {
                let (input, output) = (model.find_node(input)?, model.find_node(output)?);
                let (w, b) = weights_and_bias(model, weights, bias)?;
                let (w, b): (NdTensor<f32, 4>, NdTensor<f32, 4>) = (w.try_into().ok()?, b.try_into().ok()?);
                let c = w.size(0);
                if w.shape() != [c, 1, 3, 3] || b.shape() != [1, c, 1, 1] {
                    return None;
                }
                Some(DepthwiseLayer { input, output, stride_h, weights: w.to_vec(), bias: b.to_vec() })
            })
            .collect()
    }

    /// The layer on `x` (`1 × channels × h × w`); `pad` is scratch. The output is a new
    /// buffer (one of 28–110 KB a layer), which the graph takes over as its input.
    fn run(&self, x: NdTensor<f32, 4>, pad: &mut Vec<f32>) -> std::result::Result<NdTensor<f32, 4>, String> {
        let [n, c, h, w] = x.shape();
        if n != 1 || c * 9 != self.weights.len() || h == 0 || w == 0 {
            return Err(format!("a depthwise layer of {} channels got {n} × {c} × {h} × {w}", self.bias.len()));
        }
        let x = x.to_contiguous();
        let data = x.data();
        let mut out = Vec::new();
        let oh =
            super::depthwise::depthwise_3x3(data, (c, h, w), self.stride_h, &self.weights, &self.bias, &mut out, pad);
        Ok(NdTensor::from_data([1, c, oh, w], out))
    }
}

/// Per-frame class probabilities of one line: `frames × classes`, row-major.
#[derive(Debug, Clone, Default)]
pub struct LineProbabilities {
    /// Number of frames (one per [`FRAME_STRIDE`] input columns).
    pub frames: usize,
    /// Classes per frame (blank first).
    pub classes: usize,
    /// The probabilities.
    pub p: Vec<f32>,
}

impl LineProbabilities {
    /// Frame `t`'s probabilities.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.p[t * self.classes..(t + 1) * self.classes]
    }
}

impl TextLineModel {
    /// The bundled network, loaded once per process.
    ///
    /// Loading runs on a thread of its own with a private one-thread pool: rten uses rayon
    /// while loading, and a rayon worker that loads inline may steal another page's job, which
    /// asks for the model again from inside the initialisation and deadlocks.
    pub fn bundled() -> Result<&'static TextLineModel> {
        static MODEL: OnceLock<std::result::Result<TextLineModel, String>> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                std::thread::spawn(|| ThreadPool::with_num_threads(1).run(|| TextLineModel::load(ONNX, KEYS)))
                    .join()
                    .map_err(|_| "loading panicked".to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
            })
            .as_ref()
            .map_err(|e| Error::Model { name: "text-line recogniser".into(), reason: e.clone() })
    }

    /// Loads a PP-OCR-style CTC recogniser from ONNX bytes and its character list (one per
    /// line; the class after the last is the space).
    pub fn load(onnx: &'static [u8], keys: &str) -> Result<TextLineModel> {
        let err = |detail: String| Error::Model { name: "text-line recogniser".into(), reason: detail };
        let model = Model::load_static_slice(onnx).map_err(|e| err(e.to_string()))?;
        let (&input, &output) = match (model.input_ids().first(), model.output_ids().first()) {
            (Some(i), Some(o)) => (i, o),
            _ => return Err(err("the network has no input or output".into())),
        };
        let mut classes = vec!['\0'];
        for line in keys.lines() {
            let mut it = line.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => classes.push(c),
                _ => return Err(err(format!("keys line {} is not one character", classes.len()))),
            }
        }
        classes.push(' ');
        let head = OutputLayer::find(&model, classes.len());
        let depthwise = DepthwiseLayer::find_all(&model).unwrap_or_default();
        Ok(TextLineModel { model, input, output, head, depthwise, classes })
    }

    /// The graph from the input `x` to the value `target`, with the depthwise layers run
    /// outside it.
    fn run_graph<T: TryFrom<rten::Value, Error = rten::TryFromValueError>>(
        &self,
        x: NdTensor<f32, 4>,
        target: NodeId,
        opts: &RunOptions,
    ) -> std::result::Result<T, String> {
        let run = |from: NodeId, value: NdTensor<f32, 4>, to: NodeId| -> std::result::Result<rten::Value, String> {
            let mut out =
                self.model.run(vec![(from, value.into())], &[to], Some(opts.clone())).map_err(|e| e.to_string())?;
            Ok(out.remove(0))
        };
        let cast = |e: rten::TryFromValueError| e.to_string();
        let mut pad = Vec::new();
        let (mut from, mut value) = (self.input, x);
        for layer in &self.depthwise {
            let v: NdTensor<f32, 4> = run(from, value, layer.input)?.try_into().map_err(cast)?;
            (from, value) = (layer.output, layer.run(v, &mut pad)?);
        }
        run(from, value, target)?.try_into().map_err(cast)
    }

    /// The characters by class (`[0]`, the blank, is `'\0'`).
    pub fn classes(&self) -> &[char] {
        &self.classes
    }

    /// Runs the network on a grey line image (`width × 48`, row-major, 255 = paper), replicated
    /// to the three colour planes the network expects, on `thread`: one per page worker, since
    /// pages are already read in parallel (rten's default pool would put every core under
    /// every page and oversubscribe the machine).
    pub fn run_grey(&self, grey: &[u8], width: usize, thread: &LineThread) -> Result<LineProbabilities> {
        let err = |detail: String| Error::Model { name: "text-line recogniser".into(), reason: detail };
        if width == 0 || grey.len() != width * LINE_HEIGHT {
            return Err(err(format!("a line must be {LINE_HEIGHT} px high, got {} px for width {width}", grey.len())));
        }
        let mut x = NdTensor::<f32, 4>::zeros([1, 3, LINE_HEIGHT, width]);
        for c in 0..3 {
            let mut plane = x.slice_mut((0, c));
            for (dst, &v) in plane.iter_mut().zip(grey) {
                *dst = v as f32 / 127.5 - 1.0;
            }
        }
        let opts = RunOptions::default().with_thread_pool(Some(thread.0.clone()));
        // All of the line runs inside the pool, entered once: every graph run enters it, which a
        // caller outside it (not a batch worker) would pay a thread hand-over for, 14 times a
        // line with the depthwise layers outside the graph.
        thread.run(|| {
            // A line of one frame (no real name is that narrow) goes through the whole graph:
            // rten multiplies a single row by another kernel (a matrix-vector product).
            if let Some(head) = self.head.as_ref().filter(|_| width >= 2 * FRAME_STRIDE) {
                let f: NdTensor<f32, 3> = self.run_graph(x, head.features, &opts).map_err(err)?;
                return head.run(f).map_err(err);
            }
            let y: NdTensor<f32, 3> = self.run_graph(x, self.output, &opts).map_err(err)?;
            let [_, frames, classes] = y.shape();
            if classes != self.classes.len() {
                return Err(err(format!("{classes} classes out, {} characters known", self.classes.len())));
            }
            Ok(LineProbabilities { frames, classes, p: y.to_vec() })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_model_loads_and_reads_paper_as_blank() {
        let m = TextLineModel::bundled().unwrap();
        assert_eq!(m.classes().len(), 18_710);
        assert_eq!(m.classes()[1], '!');
        assert_eq!(m.classes()[0], '\0', "the blank");
        let w = 96;
        let t = LineThread::new();
        let out = m.run_grey(&vec![255u8; w * LINE_HEIGHT], w, &t).unwrap();
        assert_eq!(out.frames, w / FRAME_STRIDE);
        for t in 0..out.frames {
            assert!(out.frame(t)[0] > 0.9, "frame {t}: blank {}", out.frame(t)[0]);
        }
        assert!(m.run_grey(&[0u8; 10], 96, &t).is_err());
    }

    /// Runs `img` (`w` wide) through both models, asserts that every probability has the same
    /// bits, and returns the split model's.
    fn same_bits(
        split: &TextLineModel,
        whole: &TextLineModel,
        img: &[u8],
        w: usize,
        t: &LineThread,
    ) -> LineProbabilities {
        let (a, b) = (split.run_grey(img, w, t).unwrap(), whole.run_grey(img, w, t).unwrap());
        assert_eq!((a.frames, a.classes), (b.frames, b.classes), "width {w}");
        let differ = a.p.iter().zip(&b.p).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
        assert_eq!(differ, 0, "width {w}: {differ} of {} probabilities differ", a.p.len());
        a
    }

    /// The output layer run outside the graph gives the graph's probabilities, bit for bit, on
    /// lines of several widths (one frame, which takes the whole graph, to thirty) with strokes
    /// of many grey levels.
    #[test]
    fn the_output_layer_outside_the_graph_gives_the_same_bits() {
        let split = TextLineModel::bundled().unwrap();
        assert!(split.head.is_some(), "the bundled network's output layer is found");
        let mut whole = TextLineModel::load(ONNX, KEYS).unwrap();
        whole.head = None;
        let t = LineThread::new();
        for w in [8usize, 16, 23, 96, 152, 240] {
            let img: Vec<u8> = (0..w * LINE_HEIGHT)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    if (x / 5 + y / 9) % 4 == 0 {
                        ((x * 37 + y * 11) % 200) as u8
                    } else {
                        250
                    }
                })
                .collect();
            let a = same_bits(split, &whole, &img, w, &t);
            // Not all blank: the strokes of a wide line read as something.
            assert!(w < 96 || (0..a.frames).any(|f| a.frame(f)[0] < 0.5), "width {w}");
        }
    }

    /// The depthwise layers run outside the graph give the graph's probabilities, bit for bit,
    /// on lines of one frame to 25 (each line goes through all 13, the two of vertical stride 2
    /// among them).
    #[test]
    fn the_layers_outside_the_graph_give_the_same_bits() {
        let split = TextLineModel::bundled().unwrap();
        assert_eq!(split.depthwise.len(), 13, "the bundled network's depthwise layers are found");
        let mut whole = TextLineModel::load(ONNX, KEYS).unwrap();
        whole.depthwise.clear();
        let t = LineThread::new();
        for w in [8usize, 16, 41, 96, 200] {
            let img: Vec<u8> = (0..w * LINE_HEIGHT)
                .map(|i| if (i % w / 3 + i / w / 4) % 3 == 0 { (i * 7 % 180) as u8 } else { 245 })
                .collect();
            same_bits(split, &whole, &img, w, &t);
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    #[test]
    #[ignore]
    fn time_a_line() {
        // The bundled network, its output layer and depthwise layers outside the graph (see
        // `OutputLayer`, `DepthwiseLayer`), against the whole graph.
        let m = TextLineModel::bundled().unwrap();
        let t = LineThread::new();
        for w in [96usize, 160, 240] {
            let img: Vec<u8> = (0..w * LINE_HEIGHT).map(|i| if (i / 7) % 5 == 0 { 30 } else { 250 }).collect();
            m.run_grey(&img, w, &t).unwrap();
            let s = std::time::Instant::now();
            for _ in 0..10 {
                m.run_grey(&img, w, &t).unwrap();
            }
            eprintln!("width {w}: {:.1} ms", s.elapsed().as_secs_f64() * 100.0);
            let mut whole = TextLineModel::load(ONNX, KEYS).unwrap();
            whole.head = None;
            whole.depthwise.clear();
            for _ in 0..3 {
                let s = std::time::Instant::now();
                for _ in 0..10 {
                    whole.run_grey(&img, w, &t).unwrap();
                }
                let a = s.elapsed().as_secs_f64() * 100.0;
                let s = std::time::Instant::now();
                for _ in 0..10 {
                    m.run_grey(&img, w, &t).unwrap();
                }
                eprintln!("  whole graph {a:.1} ms, split {:.1} ms", s.elapsed().as_secs_f64() * 100.0);
            }
        }
    }
}
