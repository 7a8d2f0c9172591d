//! Vision buckets: the agents sorted by the `(2R+1)`-cell square they stand in, so that the
//! agents within one agent's vision window are found in the three columns of buckets around it
//! instead of by scanning every agent. Rebuilt only when an agent moved, came or left.

use crate::geometry::Cell;
use crate::state::Agent;
use crate::vision::VisionTables;

/// The agents sorted by vision bucket, valid for one value of the agents' movement count.
#[derive(Clone, Debug, Default)]
pub(crate) struct Buckets {
    /// `(bucket, agent index)`, sorted.
    entries: Vec<((i64, i64), u32)>,
    /// The movement count they were sorted for.
    sorted_for: Option<u64>,
}

impl Buckets {
    /// Re-sorts the agents if any moved, came or left since (`moves` differs).
    pub(crate) fn refresh(&mut self, agents: &[Agent], side: i64, moves: u64) {
        if self.sorted_for == Some(moves) {
            return;
        }
        self.entries.clear();
        self.entries.extend(agents.iter().enumerate().map(|(j, a)| (bucket(a.position, side), j as u32)));
        self.entries.sort_unstable();
        self.sorted_for = Some(moves);
    }

    /// Calls `f` with the window offset index of every agent within the vision window around
    /// `pos` (once per agent; agents sharing a cell give the same index). Needs a fresh
    /// [`Buckets::refresh`].
    pub(crate) fn for_each_near(
        &self,
        agents: &[Agent],
        vision: &VisionTables,
        pos: Cell,
        mut f: impl FnMut(usize),
    ) {
        let range = vision.range();
        let (bx, by) = bucket(pos, 2 * range + 1);
        for nx in bx - 1..=bx + 1 {
            // Buckets sort by (x, y), so rows by − 1 … by + 1 of column nx are one run.
            let from = self.entries.partition_point(|&(b, _)| b < (nx, by - 1));
            for &(_, j) in self.entries[from..].iter().take_while(|&&(b, _)| b <= (nx, by + 1)) {
                let other = agents[j as usize].position;
                let (dx, dy) = (other.x - pos.x, other.y - pos.y);
                if dx.abs() <= range && dy.abs() <= range {
                    f(vision.offset_index(dx, dy));
                }
            }
        }
    }
}

/// The vision bucket of a cell: the `side`-cell square holding it.
fn bucket(c: Cell, side: i64) -> (i64, i64) {
    (c.x.div_euclid(side), c.y.div_euclid(side))
}
