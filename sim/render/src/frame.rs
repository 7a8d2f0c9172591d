//! Frames: a region of the world as a grid of cells, drawn by a fragment shader into an
//! offscreen texture and read back.

use beanworld_sim::{Cell, Region, Simulation};
use wgpu::util::DeviceExt;

const SHADER: &str = include_str!("../../../assets/shaders/frame.wgsl");
/// Background of empty cells (white).
pub const BACKGROUND: [u8; 4] = [255, 255, 255, 255];

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No adapter at all.
    #[error(
        "no GPU adapter found: install a Vulkan driver (on Debian: apt-get install mesa-vulkan-drivers \
         libvulkan1 for the software adapter) or run on a machine with a GPU ({0})"
    )]
    NoAdapter(String),
    /// The device could not be opened.
    #[error("cannot open the GPU device: {0}")]
    Device(String),
    /// Reading the frame back failed.
    #[error("cannot read the frame back: {0}")]
    Readback(String),
    /// The frame is too large for the device.
    #[error("a frame of {0} × {1} pixels is larger than this GPU allows ({2})")]
    TooLarge(u32, u32, u32),
    /// What was asked of the GPU does not fit its settings or limits.
    #[error("{0}")]
    Settings(String),
}

/// A region as cells: packed RGBA8 colours (row 0 at the top) and agent marks (0, or 1 + facing).
#[derive(Clone, Debug, PartialEq)]
pub struct CellImage {
    /// Cells across.
    pub width: u32,
    /// Cells down.
    pub height: u32,
    /// Packed RGBA8 per cell.
    pub cells: Vec<u32>,
    /// Per cell: 0, or 1 + the facing of an agent there.
    pub marks: Vec<u32>,
    /// Packed RGBA8 colour of agents.
    pub agent_colour: u32,
}

fn pack([r, g, b, a]: [u8; 4]) -> u32 {
    u32::from(r) | u32::from(g) << 8 | u32::from(b) << 16 | u32::from(a) << 24
}

fn to_byte(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// The display colour of a colour vector: its first three channels (fewer: the last repeated).
pub fn rgba(colour: &[f32]) -> [u8; 4] {
    let channel = |i: usize| colour.get(i).or(colour.last()).copied().unwrap_or(0.0);
    [to_byte(channel(0)), to_byte(channel(1)), to_byte(channel(2)), 255]
}

/// What to draw besides items and agents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overlays {
    /// Tint empty cells by the scent there (zero scent stays white; each scent channel shows in
    /// its colour).
    pub scent: bool,
    /// With `scent`: show only this scent channel (in its colour), not all of them.
    pub scent_channel: Option<usize>,
    /// Draw this agent's vision — what it sees, rotated back to the world — over its window
    /// (cells outside its field of view or in shadow come out dark).
    pub visual_field: Option<u32>,
}

impl CellImage {
    /// The cells of `region` in `sim`'s world (generated patches only), with its agents.
    pub fn of(sim: &Simulation, region: Region) -> Self {
        Self::items_and_agents(sim, region)
    }

    /// The same with overlays. The agent whose visual field is drawn is observed, which only
    /// reads the world (hence `&mut`: observations are cached).
    pub fn with(sim: &mut Simulation, region: Region, overlays: Overlays) -> Self {
        let mut image = Self::items_and_agents(sim, region);
        let width = image.width;
        let at = |c: Cell| ((region.max.y - c.y) as u32 * width + (c.x - region.min.x) as u32) as usize;
        if overlays.scent {
            let mut scent = vec![0.0f32; sim.scent_len()];
            let mut field = Vec::with_capacity(image.cells.len());
            for y in (region.min.y..=region.max.y).rev() {
                for x in region.min.x..=region.max.x {
                    sim.scent_at(Cell::new(x, y), &mut scent);
                    field.push(scent.clone());
                }
            }
            let shown = |k: usize| overlays.scent_channel.is_none_or(|c| c == k);
            let top = field
                .iter()
                .flat_map(|s| s.iter().enumerate().filter(|&(k, _)| shown(k)).map(|(_, &v)| v))
                .fold(1e-9f32, f32::max);
            for (cell, s) in image.cells.iter_mut().zip(&field) {
                if *cell != pack(BACKGROUND) {
                    continue;
                }
                // Per channel log(s^0.4 + 1) / 0.9 of the normalised scent (JBW's map), mixed
                // subtractively from white.
                let v = |k: usize| {
                    s.get(k)
                        .filter(|_| shown(k))
                        .map_or(0.0, |&x| ((x / top).max(0.0).powf(0.4) + 1.0).ln() / 0.9)
                        .min(1.0)
                };
                let (v0, v1, v2) = (v(0), v(1), v(2));
                *cell = pack([
                    to_byte(1.0 - (v1 + v2) / 2.0),
                    to_byte(1.0 - (v0 + v2) / 2.0),
                    to_byte(1.0 - (v0 + v1) / 2.0),
                    255,
                ]);
            }
        }
        if let Some(id) = overlays.visual_field
            && let Some(i) = sim.agents().iter().position(|a| a.id == id)
        {
            let (mut scent, mut vision) = (vec![0.0; sim.scent_len()], vec![0.0; sim.vision_len()]);
            sim.observe(i, &mut scent, &mut vision);
            let agent = &sim.agents()[i];
            let r = i64::from(sim.config().vision.range);
            let (side, channels) = ((2 * r + 1) as usize, sim.config().vision.color_dimension);
            for dy in -r..=r {
                for dx in -r..=r {
                    let cell = Cell::new(agent.position.x + dx, agent.position.y + dy);
                    if !region.contains(cell) {
                        continue;
                    }
                    let (right, forward) = agent.facing.to_egocentric(dx, dy);
                    let k = ((right + r) as usize * side + (forward + r) as usize) * channels;
                    let seen = rgba(&vision[k..k + channels]);
                    let old = image.cells[at(cell)];
                    let mix = |a: u8, b: u8| ((u32::from(a) * 240 + u32::from(b) * 15 + 127) / 255) as u8;
                    let unpacked = [old as u8, (old >> 8) as u8, (old >> 16) as u8];
                    image.cells[at(cell)] = pack([
                        mix(seen[0], unpacked[0]),
                        mix(seen[1], unpacked[1]),
                        mix(seen[2], unpacked[2]),
                        255,
                    ]);
                }
            }
        }
        image
    }

    fn items_and_agents(sim: &Simulation, region: Region) -> Self {
        let (width, height) = (region.width() as u32, region.height() as u32);
        let mut cells = vec![pack(BACKGROUND); (width * height) as usize];
        let mut marks = vec![0; (width * height) as usize];
        let at = |c: Cell| ((region.max.y - c.y) as u32 * width + (c.x - region.min.x) as u32) as usize;
        let items = &sim.current_config().items;
        for (pos, kind) in sim.world().items_in(region) {
            cells[at(pos)] = pack(rgba(&items[kind].color));
        }
        for agent in sim.agents() {
            if region.contains(agent.position) {
                marks[at(agent.position)] = 1 + agent.facing as u32;
            }
        }
        // Agents drawn black on light items, so they stand out whatever the agent colour.
        CellImage { width, height, cells, marks, agent_colour: pack([20, 20, 20, 255]) }
    }
}

/// The pixels (RGBA8, rows from the top) that the shader draws for `image`, computed on the CPU
/// with the same integer rules.
pub fn reference(image: &CellImage, ppc: u32) -> Vec<u8> {
    let (w, h) = (image.width * ppc, image.height * ppc);
    let mut out = Vec::with_capacity((w * h * 4) as usize);
    let unpack = |c: u32| [c as u8, (c >> 8) as u8, (c >> 16) as u8, (c >> 24) as u8];
    for py in 0..h {
        for px in 0..w {
            let at = ((py / ppc) * image.width + px / ppc) as usize;
            let mut colour = image.cells[at];
            let mark = image.marks[at];
            if mark != 0 {
                let (mut u, mut v) = (px % ppc, py % ppc);
                match mark - 1 {
                    1 => (u, v) = (ppc - 1 - u, ppc - 1 - v),
                    2 => (u, v) = (v, u),
                    3 => (u, v) = (v, ppc - 1 - u),
                    _ => {}
                }
                let du = (2 * u + 1) as i64 - i64::from(ppc);
                let reach = i64::from(v) - i64::from(ppc / 5);
                if reach >= 0 && du.abs() <= reach && v < ppc - ppc / 8 {
                    colour = image.agent_colour;
                }
            }
            out.extend_from_slice(&unpack(colour));
        }
    }
    out
}

/// Opens the default adapter (a real GPU if any, else a software one) and a device on it, with
/// the adapter's own storage-buffer limits (the defaults cap a binding at 128 MiB). Returns the
/// adapter's name and type too, for messages.
pub(crate) async fn open_device() -> Result<(wgpu::Device, wgpu::Queue, String), RenderError> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions::default())
        .await
        .map_err(|e| RenderError::NoAdapter(e.to_string()))?;
    let info = adapter.get_info();
    let supported = adapter.limits();
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: supported.max_storage_buffer_binding_size,
        max_buffer_size: supported.max_buffer_size,
        ..wgpu::Limits::default()
    };
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor { required_limits: limits, ..Default::default() })
        .await
        .map_err(|e| RenderError::Device(e.to_string()))?;
    Ok((device, queue, format!("{} ({:?})", info.name, info.device_type)))
}

/// Waits for the submitted work, maps the first `bytes` of `buffer` (a `MAP_READ` buffer the
/// work copied into), hands them to `read` and unmaps the buffer again.
pub(crate) fn read_back(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
    read: impl FnOnce(&[u8]),
) -> Result<(), RenderError> {
    let failed = |e: String| RenderError::Readback(e);
    let slice = buffer.slice(..bytes);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| failed(e.to_string()))?;
    rx.recv().map_err(|e| failed(e.to_string()))?.map_err(|e| failed(e.to_string()))?;
    read(&slice.get_mapped_range());
    buffer.unmap();
    Ok(())
}

/// A bind group layout of buffers at bindings 0, 1, … (of the given types, seen by `stage`) and
/// the pipeline layout of that one group.
pub(crate) fn buffer_layouts(
    device: &wgpu::Device,
    label: &str,
    stage: wgpu::ShaderStages,
    buffers: &[wgpu::BufferBindingType],
) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = buffers
        .iter()
        .enumerate()
        .map(|(binding, &ty)| wgpu::BindGroupLayoutEntry {
            binding: binding as u32,
            visibility: stage,
            ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
            count: None,
        })
        .collect();
    let group = device
        .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(label), entries: &entries });
    let pipeline = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(&group)],
        ..Default::default()
    });
    (group, pipeline)
}

/// A GPU device and the frame pipeline.
pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    /// What adapter it runs on, for messages.
    pub adapter: String,
}

impl Renderer {
    /// Opens the default adapter (a real GPU if any, else a software one).
    pub fn new() -> Result<Self, RenderError> {
        pollster::block_on(Self::open())
    }

    async fn open() -> Result<Self, RenderError> {
        let (device, queue, adapter) = open_device().await?;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("frame"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let read = wgpu::BufferBindingType::Storage { read_only: true };
        let (layout, pipeline_layout) = buffer_layouts(
            &device,
            "frame",
            wgpu::ShaderStages::FRAGMENT,
            &[wgpu::BufferBindingType::Uniform, read, read],
        );
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("frame"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                buffers: &[],
                compilation_options: Default::default(),
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                targets: &[Some(wgpu::ColorTargetState {
                    format: wgpu::TextureFormat::Rgba8Unorm,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
                compilation_options: Default::default(),
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        Ok(Renderer { device, queue, pipeline, layout, adapter })
    }

    /// Draws `image` at `ppc` pixels per cell and returns the pixels (RGBA8, rows from the top).
    pub fn frame(&self, image: &CellImage, ppc: u32) -> Result<Vec<u8>, RenderError> {
        let (w, h) = (image.width * ppc, image.height * ppc);
        let max = self.device.limits().max_texture_dimension_2d;
        if w > max || h > max || w == 0 || h == 0 {
            return Err(RenderError::TooLarge(w, h, max));
        }
        let group = self.bind(image, ppc);
        let size = wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 };
        let texture = self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("frame"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let row = (w * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: u64::from(row) * u64::from(h),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("frame"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::WHITE),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                ..Default::default()
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.draw(0..3, 0..1);
        }
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(row),
                    rows_per_image: Some(h),
                },
            },
            size,
        );
        self.queue.submit([encoder.finish()]);
        let mut out = Vec::with_capacity((w * h * 4) as usize);
        read_back(&self.device, &readback, readback.size(), |data| {
            for y in 0..h as usize {
                out.extend_from_slice(&data[y * row as usize..][..(w * 4) as usize]);
            }
        })?;
        Ok(out)
    }
    /// The bind group of one frame: its uniform (size, pixels per cell, agent colour), cells and
    /// marks.
    fn bind(&self, image: &CellImage, ppc: u32) -> wgpu::BindGroup {
        let uniform = [image.width, image.height, ppc, image.agent_colour];
        let buffer = |contents: &[u8], usage| {
            self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents, usage })
        };
        let frame = buffer(bytemuck::cast_slice(&uniform), wgpu::BufferUsages::UNIFORM);
        let cells = buffer(bytemuck::cast_slice(&image.cells), wgpu::BufferUsages::STORAGE);
        let marks = buffer(bytemuck::cast_slice(&image.marks), wgpu::BufferUsages::STORAGE);
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("frame"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: frame.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: cells.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: marks.as_entire_binding() },
            ],
        })
    }
}

/// Writes RGBA8 pixels as a PNG file.
pub fn write_png(path: &std::path::Path, width: u32, height: u32, pixels: &[u8]) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer.write_image_data(pixels).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}
