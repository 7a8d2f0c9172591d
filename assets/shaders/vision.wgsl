// Batched vision (spec §5) over a world kept resident on the GPU.
//
// `atlas` holds the occupancy of the patches the agents' windows touch (item type + 1 per cell,
// 0: none), one slot of n × n cells per patch; the CPU uploads a patch only when it is new to
// the GPU or its items changed. Each agent brings one record: its cell within its 2 × 2 block of
// patches (x | y << 16), its facing and the slots of the four patches of the block (bottom-left,
// bottom-right, top-left, top-right; 0xffffffff: none). `count_agents` counts the agents on
// every cell from the records; `main` then runs one invocation per (agent, world offset). The
// tables (field-of-view weights, rotations, each cell's casters of shadow in ascending order,
// occlusion × fraction products, colours) come from the CPU's vision tables, so `main` repeats
// `VisionTables::finish` operation for operation: only additions of precomputed products, one
// subtraction and two multiplications, which a compiler cannot fuse.

struct Params {
    agents: u32,
    cells: u32,
    channels: u32,
    entries: u32,
    keep_at: u32,
    product_at: u32,
    colour_at: u32,
    agent_colour_at: u32,
    ego_at: u32,
    start_at: u32,
    from_at: u32,
    row: u32,
    shaded: u32,
    first_agent: u32,
    total_agents: u32,
    count_row: u32,
    n: u32,
    side: u32,
    range: u32,
    pad: u32,
}

const RECORD: u32 = 6u;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> records: array<u32>;
@group(0) @binding(2) var<storage, read> ftab: array<f32>;
@group(0) @binding(3) var<storage, read> utab: array<u32>;
@group(0) @binding(4) var<storage, read> atlas: array<u32>;
@group(0) @binding(5) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> obs: array<f32>;

// The atlas index of the cell at block coordinates (bx, by) for the agent whose record starts
// at `r`, or NONE when its patch is not there.
fn cell_index(r: u32, bx: u32, by: u32) -> u32 {
    let q = select(0u, 1u, bx >= p.n) + select(0u, 2u, by >= p.n);
    let slot = records[r + 2u + q];
    if slot == NONE {
        return NONE;
    }
    return (slot * p.n + by % p.n) * p.n + bx % p.n;
}

@compute @workgroup_size(64)
fn count_agents(@builtin(global_invocation_id) id: vec3<u32>) {
    let agent = id.x + id.y * p.count_row;
    if agent >= p.total_agents {
        return;
    }
    let r = agent * RECORD;
    let at = cell_index(r, records[r] & 0xffffu, records[r] >> 16u);
    if at != NONE {
        atomicAdd(&counts[at], 1u);
    }
}

// The code of world offset k in the window of the agent whose record starts at `r`: item type
// + 1 in the low 16 bits, agents on the cell above them. (The window lies inside the block, so
// the block coordinates never go below 0.)
fn code(r: u32, k: u32) -> u32 {
    let bx = (records[r] & 0xffffu) + k % p.side - p.range;
    let by = (records[r] >> 16u) + k / p.side - p.range;
    let at = cell_index(r, bx, by);
    if at == NONE {
        return 0u;
    }
    return atlas[at] | (atomicLoad(&counts[at]) << 16u);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x + id.y * p.row;
    if index >= p.agents * p.cells {
        return;
    }
    let agent = index / p.cells;
    let k = index % p.cells;
    let r = (p.first_agent + agent) * RECORD;
    let facing = records[r + 1u];
    var factor = ftab[p.keep_at + facing * p.cells + k];
    if p.shaded != 0u && factor > 0.0 {
        var shade = 0.0;
        let end = utab[p.start_at + k + 1u];
        for (var e = utab[p.start_at + k]; e < end; e++) {
            let kind = code(r, utab[p.from_at + e]) & 0xffffu;
            if kind != 0u {
                shade += ftab[p.product_at + (kind - 1u) * p.entries + e];
            }
        }
        if shade > 0.0 {
            factor *= 1.0 - min(shade, 1.0);
        }
    }
    let here = code(r, k);
    let kind = here & 0xffffu;
    let agents_here = here >> 16u;
    let dst = (agent * p.cells + utab[p.ego_at + facing * p.cells + k]) * p.channels;
    for (var ch = 0u; ch < p.channels; ch++) {
        var w = 0.0;
        if kind != 0u {
            w += ftab[p.colour_at + (kind - 1u) * p.channels + ch];
        }
        for (var a = 0u; a < agents_here; a++) {
            w += ftab[p.agent_colour_at + ch];
        }
        obs[dst + ch] = w * factor;
    }
}
