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
        let (w, b) = (model.find_node(HEAD_WEIGHTS)?, model.find_node(HEAD_BIAS)?);
        let mut out = model.run(Vec::new(), &[w, b], None).ok()?.into_iter();
        let w: NdTensor<f32, 2> = out.next()?.try_into().ok()?;
        let bias: NdTensor<f32, 1> = out.next()?.try_into().ok()?;
        if w.size(1) != classes || bias.size(0) != classes {
            return None;
        }
        let weights = GemmExecutor::<f32>::new().prepack_b(w.view());
        Some(OutputLayer { features, weights, bias: bias.to_vec() })
    }

    /// Probabilities from the features (`1 × 120 × frames`), in `thread`'s pool.
    fn run(&self, features: NdTensor<f32, 3>, thread: &LineThread) -> std::result::Result<LineProbabilities, String> {
        let [_, depth, frames] = features.shape();
        if depth != self.weights.rows() {
            return Err(format!("{depth} features a frame, the output layer takes {}", self.weights.rows()));
        }
        let classes = self.bias.len();
        let mut p = vec![0f32; frames * classes];
        let a = features.slice(0).transposed();
        // An executor is made per line (it picks the kernel, as at load, by the CPU's
        // features): it is not `Send`, and the model lives in a static.
        let gemm = GemmExecutor::<f32>::new();
        thread
            .run(|| {
                gemm.gemm(&mut p, GemmInputA::Unpacked(a), GemmInputB::Packed(&self.weights), GemmOptions::default())
            })
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
        Ok(TextLineModel { model, input, output, head, classes })
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
        // A line of one frame (no real name is that narrow) goes through the whole graph: rten
        // multiplies a single row by another kernel (a matrix-vector product).
        if let Some(head) = self.head.as_ref().filter(|_| width >= 2 * FRAME_STRIDE) {
            let mut out = self
                .model
                .run(vec![(self.input, x.into())], &[head.features], Some(opts))
                .map_err(|e| err(e.to_string()))?;
            let f: NdTensor<f32, 3> =
                out.remove(0).try_into().map_err(|e: rten::TryFromValueError| err(e.to_string()))?;
            return head.run(f, thread).map_err(err);
        }
        let mut out =
            self.model.run(vec![(self.input, x.into())], &[self.output], Some(opts)).map_err(|e| err(e.to_string()))?;
        let y: NdTensor<f32, 3> = out.remove(0).try_into().map_err(|e: rten::TryFromValueError| err(e.to_string()))?;
        let [_, frames, classes] = y.shape();
        if classes != self.classes.len() {
            return Err(err(format!("{classes} classes out, {} characters known", self.classes.len())));
        }
        Ok(LineProbabilities { frames, classes, p: y.to_vec() })
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
            let (a, b) = (split.run_grey(&img, w, &t).unwrap(), whole.run_grey(&img, w, &t).unwrap());
            assert_eq!((a.frames, a.classes), (b.frames, b.classes), "width {w}");
            let differ = a.p.iter().zip(&b.p).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
            assert_eq!(differ, 0, "width {w}: {differ} of {} probabilities differ", a.p.len());
            // Not all blank: the strokes of a wide line read as something.
            assert!(w < 96 || (0..a.frames).any(|f| a.frame(f)[0] < 0.5), "width {w}");
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    #[test]
    #[ignore]
    fn time_a_line() {
        // The bundled network, its output layer outside the graph (see `OutputLayer`), against
        // the whole graph.
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
