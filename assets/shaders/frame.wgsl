// Draws a grid of cells: each cell its colour, agents as triangles pointing where they face.
// All arithmetic on pixels is integer, so the CPU reference in frame.rs gives the same bytes.

struct Frame {
    width: u32,        // cells
    height: u32,       // cells
    pixels_per_cell: u32,
    agent_colour: u32, // packed RGBA8
}

@group(0) @binding(0) var<uniform> frame: Frame;
// Per cell, row 0 at the top: packed RGBA8 colour.
@group(0) @binding(1) var<storage, read> cells: array<u32>;
// Per cell: 0, or 1 + the facing of an agent there (0 up, 1 down, 2 left, 3 right).
@group(0) @binding(2) var<storage, read> marks: array<u32>;

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    // One triangle that covers the screen.
    let x = f32(i32(i & 1u) * 4 - 1);
    let y = f32(i32(i >> 1u) * 4 - 1);
    return vec4<f32>(x, y, 0.0, 1.0);
}

fn unpack(c: u32) -> vec4<f32> {
    return vec4<f32>(
        f32(c & 255u) / 255.0,
        f32((c >> 8u) & 255u) / 255.0,
        f32((c >> 16u) & 255u) / 255.0,
        f32((c >> 24u) & 255u) / 255.0,
    );
}

// Whether pixel (u, v) of an n × n cell (v down) lies in a triangle pointing up.
fn in_triangle_up(u: u32, v: u32, n: u32) -> bool {
    // Apex at the top middle, base along the bottom; |2u + 1 − n| ≤ 2v + 1 − (n / 5).
    let du = i32(2u * u + 1u) - i32(n);
    let reach = i32(v) - i32(n / 5u);
    return reach >= 0 && abs(du) <= reach && v < n - n / 8u;
}

@fragment
fn fs_main(@builtin(position) p: vec4<f32>) -> @location(0) vec4<f32> {
    let px = u32(p.x);
    let py = u32(p.y);
    let n = frame.pixels_per_cell;
    let cx = px / n;
    let cy = py / n;
    let at = cy * frame.width + cx;
    let mark = marks[at];
    if mark != 0u {
        var u = px % n;
        var v = py % n;
        let facing = mark - 1u;
        // Rotate the pixel into the frame of an agent facing up.
        if facing == 1u { u = n - 1u - u; v = n - 1u - v; }
        if facing == 2u { let t = u; u = v; v = t; }
        if facing == 3u { let t = u; u = v; v = n - 1u - t; }
        if in_triangle_up(u, v, n) {
            return unpack(frame.agent_colour);
        }
    }
    return unpack(cells[at]);
}
