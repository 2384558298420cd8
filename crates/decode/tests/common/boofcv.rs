//! BoofCV's QR detection benchmark as `boofcv/score.py` reads it: each `imageNNN.jpg|png` with
//! `imageNNN.txt` holding the labelled corners, either four `x y` lines (one code) or, after a
//! `SETS` line, one code per line as eight numbers. A labelled code is read when a decoded code
//! overlaps it with IoU >= 0.2; matching is greedy, best overlap first, one code per label.
//! Shared by the ratchet in `tests/boofcv.rs` and `examples/boofcv.rs`.

use std::path::{Path, PathBuf};

use qrscan_decode::QrCode;

/// The overlap at which a decoded code counts as the labelled one (score.py's default).
pub const MIN_IOU: f64 = 0.2;

pub type Quad = [[f64; 2]; 4];

/// One photo and its labelled codes.
pub struct Image {
    #[allow(dead_code)] // read by examples/boofcv.rs, which includes this file
    pub category: String,
    pub path: PathBuf,
    pub labels: Vec<Quad>,
}

/// Every labelled image under `root`, by category then file name.
pub fn load(root: &Path) -> std::io::Result<Vec<Image>> {
    let mut images = Vec::new();
    let mut categories: Vec<_> = std::fs::read_dir(root)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    categories.sort();
    for dir in categories {
        let category = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.starts_with("image") && (name.ends_with(".jpg") || name.ends_with(".png"))
            })
            .collect();
        files.sort();
        for path in files {
            let labels = parse_labels(&std::fs::read_to_string(path.with_extension("txt"))?);
            images.push(Image {
                category: category.clone(),
                path,
                labels,
            });
        }
    }
    Ok(images)
}

fn parse_labels(text: &str) -> Vec<Quad> {
    let (mut quads, mut points, mut sets) = (Vec::new(), Vec::new(), false);
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "SETS" {
            sets = true;
            continue;
        }
        let v: Vec<f64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if sets && v.len() == 8 {
            quads.push([[v[0], v[1]], [v[2], v[3]], [v[4], v[5]], [v[6], v[7]]]);
        } else if !sets && v.len() == 2 {
            points.push([v[0], v[1]]);
        }
    }
    for four in points.chunks_exact(4) {
        quads.push([four[0], four[1], four[2], four[3]]);
    }
    quads
}

/// Decodes every image with `read` on two threads and returns, per image, how many of its
/// labelled codes were read.
pub fn score(images: &[Image], read: impl Fn(&[u8]) -> Vec<QrCode> + Sync) -> Vec<usize> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut reads = vec![0; images.len()];
    let results = std::sync::Mutex::new(&mut reads);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(image) = images.get(i) else { break };
                let codes = std::fs::read(&image.path)
                    .map(|b| read(&b))
                    .unwrap_or_default();
                let count = matched(&image.labels, &codes);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = count;
            });
        }
    });
    reads
}

/// How many labels a decoded code matches, greedily by best overlap.
pub fn matched(labels: &[Quad], codes: &[QrCode]) -> usize {
    let quads: Vec<Quad> = codes
        .iter()
        .map(|c| c.points.map(|p| [f64::from(p[0]), f64::from(p[1])]))
        .collect();
    let mut pairs = Vec::new();
    for (l, label) in labels.iter().enumerate() {
        for (c, quad) in quads.iter().enumerate() {
            let overlap = iou(label, quad);
            if overlap >= MIN_IOU {
                pairs.push((overlap, l, c));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut label_used, mut code_used) = (vec![false; labels.len()], vec![false; quads.len()]);
    let mut count = 0;
    for (_, l, c) in pairs {
        if !label_used[l] && !code_used[c] {
            label_used[l] = true;
            code_used[c] = true;
            count += 1;
        }
    }
    count
}

/// Intersection over union of two quadrilaterals, both taken as convex (clipping one by the
/// other, Sutherland-Hodgman).
pub fn iou(a: &Quad, b: &Quad) -> f64 {
    let (area_a, area_b) = (area(a), area(b));
    let inter = area(&clip(&ccw(a), &ccw(b)));
    let union = area_a + area_b - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

fn area(points: &[[f64; 2]]) -> f64 {
    let n = points.len();
    let twice: f64 = (0..n)
        .map(|i| {
            let (p, q) = (points[i], points[(i + 1) % n]);
            p[0] * q[1] - q[0] * p[1]
        })
        .sum();
    twice.abs() / 2.0
}

/// The points in counter-clockwise order (positive signed area).
fn ccw(quad: &Quad) -> Vec<[f64; 2]> {
    let mut points = quad.to_vec();
    let signed: f64 = (0..4)
        .map(|i| {
            let (p, q) = (points[i], points[(i + 1) % 4]);
            p[0] * q[1] - q[0] * p[1]
        })
        .sum();
    if signed < 0.0 {
        points.reverse();
    }
    points
}

fn clip(subject: &[[f64; 2]], clipper: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut output = subject.to_vec();
    for i in 0..clipper.len() {
        let (a, b) = (clipper[i], clipper[(i + 1) % clipper.len()]);
        let inside =
            |p: [f64; 2]| (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0.0;
        let cross = |p: [f64; 2], q: [f64; 2]| {
            let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
            let (ex, ey) = (b[0] - a[0], b[1] - a[1]);
            let denominator = dx * ey - dy * ex;
            let t = if denominator == 0.0 {
                0.0
            } else {
                ((a[0] - p[0]) * ey - (a[1] - p[1]) * ex) / denominator
            };
            [p[0] + t * dx, p[1] + t * dy]
        };
        let input = std::mem::take(&mut output);
        for j in 0..input.len() {
            let (p, q) = (input[j], input[(j + 1) % input.len()]);
            match (inside(p), inside(q)) {
                (true, true) => output.push(q),
                (true, false) => output.push(cross(p, q)),
                (false, true) => {
                    output.push(cross(p, q));
                    output.push(q);
                }
                (false, false) => {}
            }
        }
        if output.is_empty() {
            break;
        }
    }
    output
}
