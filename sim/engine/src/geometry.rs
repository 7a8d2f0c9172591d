//! Cells, patches and regions of the unbounded grid (spec §1.1–1.2). `+x` is east, `+y` north;
//! patch `(px, py)` covers cells `[px·n, px·n + n) × [py·n, py·n + n)` with floor division, so
//! negative coordinates work like positive ones.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A cell of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    /// East–west coordinate.
    pub x: i64,
    /// South–north coordinate.
    pub y: i64,
}

impl Cell {
    /// The cell at `(x, y)`.
    pub const fn new(x: i64, y: i64) -> Self {
        Cell { x, y }
    }

    /// The patch holding this cell, for patch size `n`.
    pub fn patch(self, n: usize) -> PatchCoord {
        let n = n as i64;
        PatchCoord { x: self.x.div_euclid(n), y: self.y.div_euclid(n) }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

/// The coordinate of a patch: patch `(px, py)` starts at cell `(px·n, py·n)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PatchCoord {
    /// Column of patches.
    pub x: i64,
    /// Row of patches.
    pub y: i64,
}

impl PatchCoord {
    /// The patch at `(x, y)`.
    pub const fn new(x: i64, y: i64) -> Self {
        PatchCoord { x, y }
    }

    /// Its bottom-left cell for patch size `n`.
    pub fn origin(self, n: usize) -> Cell {
        let n = n as i64;
        Cell { x: self.x * n, y: self.y * n }
    }

    /// The generation phase, 0–3, from the parities of the coordinates: `(even, even)` = 0,
    /// `(odd, even)` = 1, `(even, odd)` = 2, `(odd, odd)` = 3. Adjacent patches (including
    /// diagonally) never share a phase.
    pub fn phase(self) -> usize {
        (self.x.rem_euclid(2) + 2 * self.y.rem_euclid(2)) as usize
    }

    /// The patch offset by `(dx, dy)` patches.
    pub const fn offset(self, dx: i64, dy: i64) -> Self {
        PatchCoord { x: self.x + dx, y: self.y + dy }
    }

    /// The eight surrounding patches, row by row from the bottom-left.
    pub fn neighbours(self) -> [PatchCoord; 8] {
        NEIGHBOUR_OFFSETS.map(|(dx, dy)| self.offset(dx, dy))
    }
}

/// Offsets of the eight neighbours of a patch, bottom row first, increasing x within a row.
pub const NEIGHBOUR_OFFSETS: [(i64, i64); 8] =
    [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)];

impl fmt::Display for PatchCoord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "patch ({}, {})", self.x, self.y)
    }
}

/// An absolute facing (spec §1.1; the discriminants are JBW's wire values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// `+y`, angle π/2.
    Up = 0,
    /// `−y`, angle −π/2.
    Down = 1,
    /// `−x`, angle π.
    Left = 2,
    /// `+x`, angle 0.
    Right = 3,
}

impl Direction {
    /// All four, in wire order.
    pub const ALL: [Direction; 4] = [Direction::Up, Direction::Down, Direction::Left, Direction::Right];

    /// The unit step `(dx, dy)`.
    pub const fn unit(self) -> (i64, i64) {
        match self {
            Direction::Up => (0, 1),
            Direction::Down => (0, -1),
            Direction::Left => (-1, 0),
            Direction::Right => (1, 0),
        }
    }

    /// The angle counter-clockwise from `+x`, in radians.
    pub fn angle(self) -> f64 {
        use std::f64::consts::{FRAC_PI_2, PI};
        match self {
            Direction::Up => FRAC_PI_2,
            Direction::Down => -FRAC_PI_2,
            Direction::Left => PI,
            Direction::Right => 0.0,
        }
    }

    /// Turned 90° counter-clockwise.
    pub const fn left(self) -> Self {
        match self {
            Direction::Up => Direction::Left,
            Direction::Left => Direction::Down,
            Direction::Down => Direction::Right,
            Direction::Right => Direction::Up,
        }
    }

    /// Turned 90° clockwise.
    pub const fn right(self) -> Self {
        match self {
            Direction::Up => Direction::Right,
            Direction::Right => Direction::Down,
            Direction::Down => Direction::Left,
            Direction::Left => Direction::Up,
        }
    }

    /// Turned 180°.
    pub const fn reverse(self) -> Self {
        match self {
            Direction::Up => Direction::Down,
            Direction::Down => Direction::Up,
            Direction::Left => Direction::Right,
            Direction::Right => Direction::Left,
        }
    }

    /// Where a world offset `(dx, dy)` appears to an agent facing this way, as `(right,
    /// forward)` (spec §5.1).
    pub const fn to_egocentric(self, dx: i64, dy: i64) -> (i64, i64) {
        match self {
            Direction::Up => (dx, dy),
            Direction::Down => (-dx, -dy),
            Direction::Left => (dy, -dx),
            Direction::Right => (-dy, dx),
        }
    }
}

impl Cell {
    /// The cell `k` steps along `d`.
    pub const fn step(self, d: Direction, k: i64) -> Self {
        let (dx, dy) = d.unit();
        Cell { x: self.x + dx * k, y: self.y + dy * k }
    }
}

/// An axis-aligned rectangle of cells, both corners included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// Bottom-left corner.
    pub min: Cell,
    /// Top-right corner.
    pub max: Cell,
}

impl Region {
    /// The rectangle spanned by two corners, in any order.
    pub fn new(a: Cell, b: Cell) -> Self {
        Region { min: Cell::new(a.x.min(b.x), a.y.min(b.y)), max: Cell::new(a.x.max(b.x), a.y.max(b.y)) }
    }

    /// Width in cells (`u64::MAX` for the one width past it, from `i64::MIN` to `i64::MAX`).
    pub fn width(&self) -> u64 {
        self.max.x.abs_diff(self.min.x).saturating_add(1)
    }

    /// Height in cells, saturating as [`Region::width`] does.
    pub fn height(&self) -> u64 {
        self.max.y.abs_diff(self.min.y).saturating_add(1)
    }

    /// Number of cells, `u64::MAX` where there are more.
    pub fn cells(&self) -> u64 {
        self.width().saturating_mul(self.height())
    }

    /// Whether the cell lies inside.
    pub fn contains(&self, c: Cell) -> bool {
        (self.min.x..=self.max.x).contains(&c.x) && (self.min.y..=self.max.y).contains(&c.y)
    }

    /// The patches that intersect it, bottom row first.
    pub fn patches(&self, n: usize) -> impl Iterator<Item = PatchCoord> + use<> {
        let (lo, hi) = (self.min.patch(n), self.max.patch(n));
        (lo.y..=hi.y).flat_map(move |y| (lo.x..=hi.x).map(move |x| PatchCoord::new(x, y)))
    }
}

/// Why a region could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected a region as X0,Y0,X1,Y1 (four integers), found `{0}`")]
pub struct RegionParseError(String);

impl FromStr for Region {
    type Err = RegionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<i64> = s
            .split(',')
            .map(|p| p.trim().parse::<i64>())
            .collect::<Result<_, _>>()
            .map_err(|_| RegionParseError(s.to_string()))?;
        match parts[..] {
            [x0, y0, x1, y1] => Ok(Region::new(Cell::new(x0, y0), Cell::new(x1, y1))),
            _ => Err(RegionParseError(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_cells_floor_into_patches() {
        assert_eq!(Cell::new(-1, -32).patch(32), PatchCoord::new(-1, -1));
        assert_eq!(Cell::new(-33, 31).patch(32), PatchCoord::new(-2, 0));
        assert_eq!(Cell::new(64, 0).patch(32), PatchCoord::new(2, 0));
        assert_eq!(PatchCoord::new(-2, 1).origin(32), Cell::new(-64, 32));
    }

    #[test]
    fn adjacent_patches_never_share_a_phase() {
        for x in -3..3 {
            for y in -3..3 {
                let p = PatchCoord::new(x, y);
                for q in p.neighbours() {
                    assert_ne!(p.phase(), q.phase(), "{p} and {q}");
                }
            }
        }
        assert_eq!(PatchCoord::new(0, 0).phase(), 0);
        assert_eq!(PatchCoord::new(-1, 0).phase(), 1);
        assert_eq!(PatchCoord::new(0, -1).phase(), 2);
        assert_eq!(PatchCoord::new(-1, 1).phase(), 3);
    }

    #[test]
    fn turns_follow_the_spec_table() {
        use Direction::*;
        // spec §6.2: current × (left, right, reverse)
        for (d, l, r, b) in [
            (Up, Left, Right, Down),
            (Down, Right, Left, Up),
            (Left, Down, Up, Right),
            (Right, Up, Down, Left),
        ] {
            assert_eq!((d.left(), d.right(), d.reverse()), (l, r, b), "{d:?}");
        }
    }

    #[test]
    fn egocentric_frame_matches_the_spec_for_every_facing() {
        use Direction::*;
        // Forward is (0, 1) and right is (1, 0) in the agent's frame.
        for d in Direction::ALL {
            let (fx, fy) = d.unit();
            assert_eq!(d.to_egocentric(fx, fy), (0, 1), "{d:?} forward");
            let (rx, ry) = d.right().unit();
            assert_eq!(d.to_egocentric(rx, ry), (1, 0), "{d:?} right");
        }
        assert_eq!(Left.to_egocentric(-1, 0), (0, 1));
        assert_eq!(Left.to_egocentric(0, 1), (1, 0));
        assert_eq!(Right.to_egocentric(2, 3), (-3, 2));
        assert_eq!(Down.to_egocentric(2, 3), (-2, -3));
    }

    #[test]
    fn regions_parse_and_normalise() {
        let r: Region = "10,-5,0,5".parse().expect("valid region");
        assert_eq!(r.min, Cell::new(0, -5));
        assert_eq!(r.max, Cell::new(10, 5));
        assert_eq!(r.cells(), 11 * 11);
        assert!("1,2,3".parse::<Region>().is_err());
        assert!("a,b,c,d".parse::<Region>().is_err());
        let patches: Vec<_> = Region::new(Cell::new(-1, 0), Cell::new(32, 0)).patches(32).collect();
        assert_eq!(patches, vec![PatchCoord::new(-1, 0), PatchCoord::new(0, 0), PatchCoord::new(1, 0)]);
    }

    #[test]
    fn huge_regions_saturate() {
        let wide = Region::new(Cell::new(-12, -12), Cell::new(1_222_222_222_222_222_222, 12));
        assert_eq!(wide.cells(), u64::MAX);
        let all = Region::new(Cell::new(i64::MIN, 0), Cell::new(i64::MAX, 0));
        assert_eq!((all.width(), all.height(), all.cells()), (u64::MAX, 1, u64::MAX));
    }
}
