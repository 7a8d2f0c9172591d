// Batched vision (spec §5): one invocation per (agent, world offset). Each agent brings the codes
// of its window (item type + 1 in the low 16 bits, the number of agents on the cell above them)
// and its facing; the tables (field-of-view weights, rotations, each cell's casters of shadow in
// ascending order, occlusion × fraction products, colours) come from the CPU's vision tables, so
// this repeats `VisionTables::finish` operation for operation: only additions of precomputed
// products, one subtraction and two multiplications, which a compiler cannot fuse.

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
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> codes: array<u32>;
@group(0) @binding(2) var<storage, read> ftab: array<f32>;
@group(0) @binding(3) var<storage, read> utab: array<u32>;
@group(0) @binding(4) var<storage, read_write> obs: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x + id.y * p.row;
    if index >= p.agents * p.cells {
        return;
    }
    let agent = index / p.cells;
    let k = index % p.cells;
    let base = (p.first_agent + agent) * (p.cells + 1u);
    let facing = codes[base + p.cells];
    var factor = ftab[p.keep_at + facing * p.cells + k];
    if p.shaded != 0u && factor > 0.0 {
        var shade = 0.0;
        let end = utab[p.start_at + k + 1u];
        for (var e = utab[p.start_at + k]; e < end; e++) {
            let kind = codes[base + utab[p.from_at + e]] & 0xffffu;
            if kind != 0u {
                shade += ftab[p.product_at + (kind - 1u) * p.entries + e];
            }
        }
        if shade > 0.0 {
            factor *= 1.0 - min(shade, 1.0);
        }
    }
    let code = codes[base + k];
    let kind = code & 0xffffu;
    let agents_here = code >> 16u;
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
