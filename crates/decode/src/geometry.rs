//! The shapes the search talks in, in the caller's image pixels: a symbol's `Quad` (four
//! corners), an axis-aligned `Bounds` box, a finder `Pattern` (centre and width), and the
//! `Placement` of a view or crop in the image.

/// A symbol's four corners, clockwise from top-left: top-left, top-right, bottom-right,
/// bottom-left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quad(pub [[f32; 2]; 4]);

impl Quad {
    /// Its area (the shoelace formula), whatever the winding.
    pub fn area(&self) -> f32 {
        let p = &self.0;
        let mut twice = 0.0;
        for i in 0..4 {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            twice += a[0] * b[1] - b[0] * a[1];
        }
        (twice / 2.0).abs()
    }

    /// Its topmost and leftmost coordinates, (y, x): the order codes of one size are listed in.
    pub fn top_left(&self) -> (f32, f32) {
        let y = self.0.iter().map(|p| p[1]).fold(f32::INFINITY, f32::min);
        let x = self.0.iter().map(|p| p[0]).fold(f32::INFINITY, f32::min);
        (y, x)
    }

    /// Whether `point` lies inside (convex, either winding).
    pub fn contains(&self, point: [f32; 2]) -> bool {
        // A degenerate quadrilateral (all corners on a line) would "contain" every point on
        // that line and, collapsed to a point, every point at all: it holds none.
        if self.area() <= 0.0 {
            return false;
        }
        let p = &self.0;
        let sides = (0..4).map(|i| {
            let (a, b) = (p[i], p[(i + 1) % 4]);
            (b[0] - a[0]) * (point[1] - a[1]) - (b[1] - a[1]) * (point[0] - a[0])
        });
        let (mut left, mut right) = (false, false);
        for side in sides {
            left |= side < 0.0;
            right |= side > 0.0;
        }
        !(left && right)
    }

    /// The mean of its corners.
    pub fn center(&self) -> [f32; 2] {
        let sum = self
            .0
            .iter()
            .fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
        [sum[0] / 4.0, sum[1] / 4.0]
    }

    /// The smallest axis-aligned box holding it.
    pub fn bounds(&self) -> Bounds {
        let xs = self.0.map(|p| p[0]);
        let ys = self.0.map(|p| p[1]);
        let min = |v: [f32; 4]| v.into_iter().fold(f32::INFINITY, f32::min);
        let max = |v: [f32; 4]| v.into_iter().fold(f32::NEG_INFINITY, f32::max);
        Bounds {
            left: min(xs),
            top: min(ys),
            right: max(xs),
            bottom: max(ys),
        }
    }
}

/// An axis-aligned box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

impl Bounds {
    pub fn center(&self) -> [f32; 2] {
        [
            (self.left + self.right) / 2.0,
            (self.top + self.bottom) / 2.0,
        ]
    }

    pub fn contains(&self, [x, y]: [f32; 2]) -> bool {
        (self.left..=self.right).contains(&x) && (self.top..=self.bottom).contains(&y)
    }

    /// The smallest box holding both.
    pub fn union(self, other: Bounds) -> Bounds {
        Bounds {
            left: self.left.min(other.left),
            top: self.top.min(other.top),
            right: self.right.max(other.right),
            bottom: self.bottom.max(other.bottom),
        }
    }
}

/// A finder pattern a scan confirmed: its centre, its width (7 modules), and its contrast.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pattern {
    pub x: f32,
    pub y: f32,
    pub size: f32,
    /// How much lighter its light ring is than its dark centre, where least so, in grey levels
    /// (`detect::finder`'s `ring_contrast`); `f32::INFINITY` where the grey pixels were not
    /// at hand.
    pub contrast: f32,
}

impl Pattern {
    pub fn centre(&self) -> [f32; 2] {
        [self.x, self.y]
    }

    /// The side of one of its modules: a finder pattern is 7 modules across.
    pub fn module(&self) -> f32 {
        self.size / crate::layout::FINDER_MODULES as f32
    }

    /// Whether two sightings are one pattern: each centre within half the larger's width of
    /// the other.
    pub fn near(&self, other: &Pattern) -> bool {
        let reach = self.size.max(other.size) / 2.0;
        (self.x - other.x).abs() <= reach && (self.y - other.y).abs() <= reach
    }
}

/// Where the bits a detector looks at sit in the caller's image: a view `scale` times smaller than the image (across, down: the squashed views shrink one
/// axis only), or a crop of one with its top-left corner at `origin` (in view pixels).
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    pub origin: [f32; 2],
    pub scale: [f32; 2],
}

impl Placement {
    /// A point of the detector's bits in the caller's image pixels.
    pub(crate) fn to_image(self, x: f32, y: f32) -> [f32; 2] {
        [
            (x + self.origin[0]) * self.scale[0],
            (y + self.origin[1]) * self.scale[1],
        ]
    }
}
