//! Triples of finder patterns beyond the ones rxing's port proposes: strongly tilted symbols
//! (zxing-cpp's wider rules) and symbols that lost a pattern (a pair completed where a square
//! symbol puts the third).

use std::collections::HashSet;

use rxing::common::cpp_essentials::ConcentricPattern;
use rxing::qrcode::cpp_port::detector::FinderPatternSet;

use crate::layout;

/// Most unclaimed finder patterns `completed_sets` pairs up: two symbols missing one each.
const MAX_COMPLETED_PATTERNS: usize = 4;

/// Triples for a symbol that lost one finder pattern (torn, covered, washed out by glare), with
/// the symbol's side in modules: each pair of unclaimed patterns of about one size, and the third
/// pattern where a square symbol puts it. A pair along a side has the third on either side of
/// either end; a diagonal pair has it at either right-angled corner. Each is tried at the side
/// the pair's distance and module size give. Pairs in `tried` (sampled with a third pattern
/// of their own) are left out: on whole views, trying them too cost a third more decoding time;
/// in the crops around unread symbols they read 2 curved codes of the zxing-cpp corpus per turn
/// and one of BoofCV's for no time that shows.
pub(super) fn completed_sets(
    patterns: &[ConcentricPattern],
    skip: &[ConcentricPattern],
    tried: [&[FinderPatternSet]; 2],
) -> Vec<(FinderPatternSet, u32)> {
    let free: Vec<ConcentricPattern> = patterns
        .iter()
        .filter(|p| !skip.contains(p))
        .copied()
        .collect();
    if free.len() < 2 || free.len() > MAX_COMPLETED_PATTERNS {
        return Vec::new();
    }
    let mut sets = Vec::new();
    for (i, a) in free.iter().enumerate() {
        for b in &free[i + 1..] {
            let (small, large) = (a.size.min(b.size), a.size.max(b.size));
            if small <= 0 || large * 2 > small * 3 {
                continue;
            }
            // A pair already sampled with a third pattern of its own had its chance.
            let holds = |set: &FinderPatternSet, p: &ConcentricPattern| {
                [set.bl, set.tl, set.tr].contains(p)
            };
            if tried
                .iter()
                .flat_map(|sets| sets.iter())
                .any(|set| holds(set, a) && holds(set, b))
            {
                continue;
            }
            // A finder pattern is 7 modules across.
            let module = f64::from(a.size + b.size) / 14.0;
            let (vx, vy) = (f64::from(b.p.x - a.p.x), f64::from(b.p.y - a.p.y));
            let distance = vx.hypot(vy);
            let at = |x: f64, y: f64| rxing::Point {
                x: x as f32,
                y: y as f32,
            };
            let (ax, ay, bx, by) = (
                f64::from(a.p.x),
                f64::from(a.p.y),
                f64::from(b.p.x),
                f64::from(b.p.y),
            );
            // (corner, the two others, centre distance in modules between corner and others).
            let mut triples = Vec::new();
            for sign in [1.0, -1.0] {
                let (nx, ny) = (-vy * sign, vx * sign);
                triples.push((a.p, b.p, at(ax + nx, ay + ny), distance));
                triples.push((b.p, a.p, at(bx + nx, by + ny), distance));
                let (mx, my) = ((ax + bx) / 2.0, (ay + by) / 2.0);
                triples.push((
                    at(mx + nx / 2.0, my + ny / 2.0),
                    a.p,
                    b.p,
                    distance / 2f64.sqrt(),
                ));
            }
            for (corner, one, other, span) in triples {
                let modules = span / module + 7.0;
                let version = ((modules - 17.0) / 4.0).round();
                if !(1.0..=40.0).contains(&version) {
                    continue;
                }
                let pattern = |p: rxing::Point| ConcentricPattern { p, size: a.size };
                // Clockwise in image coordinates: top-right, then bottom-left.
                let cross = (one.x - corner.x) * (other.y - corner.y)
                    - (one.y - corner.y) * (other.x - corner.x);
                let (tr, bl) = if cross > 0.0 {
                    (one, other)
                } else {
                    (other, one)
                };
                let set = FinderPatternSet {
                    bl: pattern(bl),
                    tl: pattern(corner),
                    tr: pattern(tr),
                };
                // The nearest version only: a version either way read nothing more on BoofCV.
                sets.push((set, layout::side_of(version as u32)));
            }
        }
    }
    sets
}

/// Most extra sets `tilted_sets` returns, the most plausible first, as zxing-cpp keeps.
const MAX_TILTED_SETS: usize = 256;
/// Most patterns `tilted_sets` combines: its work grows with the cube of the count.
const MAX_TILTED_PATTERNS: usize = 40;

/// Triples of finder patterns that may be a strongly tilted symbol, by zxing-cpp's rules, which
/// rxing's faster port narrowed: the corner angle within 45 degrees of square (the port: 30),
/// distances scaled by the square of the size ratio (foreshortening shrinks the far patterns),
/// and ordered by how far the triangle is from an isosceles right one. Only triples of patterns
/// outside `skip` (patterns of codes read) that rxing did not propose (`proposed`) come back.
pub(super) fn tilted_sets(
    patterns: &[ConcentricPattern],
    skip: &[ConcentricPattern],
    proposed: &[FinderPatternSet],
) -> Vec<FinderPatternSet> {
    let mut free: Vec<ConcentricPattern> = patterns
        .iter()
        .filter(|p| !skip.contains(p))
        .copied()
        .collect();
    free.sort_by_key(|p| p.size);
    free.truncate(MAX_TILTED_PATTERNS);
    let key = |a: &ConcentricPattern, b: &ConcentricPattern, c: &ConcentricPattern| {
        let mut k = [(a.p.x, a.p.y), (b.p.x, b.p.y), (c.p.x, c.p.y)]
            .map(|(x, y)| (x.to_bits(), y.to_bits()));
        k.sort_unstable();
        k
    };
    // A set, not a list: a busy view proposes up to 105 triples a pattern.
    let known: HashSet<_> = proposed.iter().map(|s| key(&s.bl, &s.tl, &s.tr)).collect();
    let squared = |a: &ConcentricPattern, b: &ConcentricPattern| {
        let (dx, dy) = (f64::from(a.p.x - b.p.x), f64::from(a.p.y - b.p.y));
        (dx * dx + dy * dy) * (f64::from(b.size) / f64::from(a.size)).powi(2)
    };
    let (cos_upper, cos_lower) = (
        std::f64::consts::FRAC_PI_4.cos(),
        (3.0 * std::f64::consts::FRAC_PI_4).cos(),
    );
    let mut sets: Vec<(f64, FinderPatternSet)> = Vec::new();
    let n = free.len();
    for i in 0..n.saturating_sub(2) {
        for j in i + 1..n - 1 {
            for k in j + 1..n {
                let (mut a, mut b, mut c) = (&free[i], &free[j], &free[k]);
                // Sorted by size: past twice the smallest, no later pattern fits either.
                if c.size > a.size * 2 {
                    break;
                }
                let (mut ab, mut bc, mut ac) = (squared(a, b), squared(b, c), squared(a, c));
                if bc >= ab && bc >= ac {
                    std::mem::swap(&mut a, &mut b);
                    std::mem::swap(&mut bc, &mut ac);
                } else if ab >= ac && ab >= bc {
                    std::mem::swap(&mut b, &mut c);
                    std::mem::swap(&mut ab, &mut ac);
                }
                let (dist_ab, dist_bc) = (ab.sqrt(), bc.sqrt());
                if dist_ab > 2.0 * dist_bc || dist_bc > 2.0 * dist_ab {
                    continue;
                }
                let module = 2.0 * f64::from(a.size + b.size + c.size) / 21.0;
                let modules = (dist_ab + dist_bc) / module + 7.0;
                if !(21.0 * 0.9..=177.0 * 1.5).contains(&modules) {
                    continue;
                }
                let cos = (ab + bc - ac) / (2.0 * dist_ab * dist_bc);
                if cos.is_nan() || cos > cos_upper || cos < cos_lower {
                    continue;
                }
                let score = (ac - 2.0 * ab).abs() + (ac - 2.0 * bc).abs();
                let cross = f64::from(c.p.x - b.p.x) * f64::from(a.p.y - b.p.y)
                    - f64::from(c.p.y - b.p.y) * f64::from(a.p.x - b.p.x);
                if cross < 0.0 {
                    std::mem::swap(&mut a, &mut c);
                }
                if known.contains(&key(a, b, c)) {
                    continue;
                }
                sets.push((
                    score,
                    FinderPatternSet {
                        bl: *a,
                        tl: *b,
                        tr: *c,
                    },
                ));
            }
        }
    }
    sets.sort_by(|x, y| x.0.total_cmp(&y.0));
    sets.truncate(MAX_TILTED_SETS);
    sets.into_iter().map(|(_, set)| set).collect()
}
