//! Batched vision on the GPU: the observations of many agents, across worlds, in one submission,
//! bit-identical to [`Simulation::observe`]'s vision.
//!
//! The world stays resident on the GPU: the patches the agents' windows touch live in an atlas
//! of patch slots, uploaded once and again only when their items change (a patch's
//! [`World::version`](beanworld_sim::World::version) is unique in the process, so a slot is
//! known to be current without looking at its cells). Each step the CPU uploads one small record
//! per agent (where it stands in its block, its facing, its block's four slots); the GPU counts
//! the agents on every cell, then computes each observation with the same field-of-view
//! weights, shadows and rotation, from the same tables, in the same order as the CPU
//! (`assets/shaders/vision.wgsl`). The observations stay on the GPU ([`GpuVision::compute`]) for
//! a learner there, or come back ([`GpuVision::read`], [`GpuVision::observe`]).

use beanworld_sim::config::{Config, VisionConfig};
use beanworld_sim::{PatchCoord, Simulation};
use rustc_hash::FxHashMap;
use wgpu::util::DeviceExt;

use crate::frame::{RenderError, buffer_layouts, open_device, read_back};

const SHADER: &str = include_str!("../../../assets/shaders/vision.wgsl");
const WORKGROUP: u32 = 64;
/// `u32`s per agent record (see the shader).
const RECORD: usize = 6;
/// No patch (the slot of a patch that does not exist).
const NONE: u32 = u32::MAX;
/// A slot not used for this many calls is given back for other patches.
const KEEP_CALLS: u64 = 16;
/// Bytes of the uniform `Params`.
const PARAMS: usize = 80;

/// What the vision tables are built from; every world observed must agree on it.
#[derive(Clone, Debug, PartialEq)]
struct Looks {
    patch_size: usize,
    vision: VisionConfig,
    /// Per item type: colour and occlusion.
    items: Vec<(Vec<f32>, f32)>,
}

impl Looks {
    fn of(config: &Config) -> Self {
        Looks {
            patch_size: config.patch_size,
            vision: config.vision.clone(),
            items: config.items.iter().map(|t| (t.color.clone(), t.visual_occlusion)).collect(),
        }
    }

    fn matches(&self, config: &Config) -> bool {
        self.patch_size == config.patch_size
            && self.vision == config.vision
            && self.items.len() == config.items.len()
            && self
                .items
                .iter()
                .zip(&config.items)
                .all(|((c, o), t)| *c == t.color && *o == t.visual_occlusion)
    }
}

/// A patch resident in a slot of the atlas.
struct Resident {
    slot: u32,
    seed: u64,
    version: u64,
    /// The call that last used it.
    used: u64,
}

/// The observations of up to `per_dispatch` agents: their output buffer and bind group.
struct Chunk {
    uniform: wgpu::Buffer,
    obs: wgpu::Buffer,
    group: wgpu::BindGroup,
}

/// A device with the vision kernels, the tables of one configuration and the resident world.
pub struct GpuVision {
    device: wgpu::Device,
    queue: wgpu::Queue,
    count_pipeline: wgpu::ComputePipeline,
    vision_pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    ftab: wgpu::Buffer,
    utab: wgpu::Buffer,
    looks: Looks,
    /// The uniform's fixed part (see the shader's `Params`).
    params: [u32; PARAMS / 4],
    cells: usize,
    channels: usize,
    /// Most agents one dispatch may write (the storage binding limit).
    per_dispatch: usize,
    /// Most patch slots the atlas may hold (the storage binding limit).
    max_slots: usize,
    /// Patches on the GPU, by world index and coordinate.
    resident: FxHashMap<(u32, PatchCoord), Resident>,
    free: Vec<u32>,
    /// Slots handed out so far (free ones included).
    slots: u32,
    /// Patch occupancy as uploaded, and where each patch goes.
    uploads: Vec<u32>,
    upload_slots: Vec<u32>,
    atlas: wgpu::Buffer,
    counts: wgpu::Buffer,
    records: Vec<u32>,
    record_buffer: wgpu::Buffer,
    chunks: Vec<Chunk>,
    readback: Option<wgpu::Buffer>,
    /// Agents in the last [`GpuVision::compute`].
    agents: usize,
    /// Bytes written to the GPU by all calls so far.
    uploaded: u64,
    calls: u64,
    /// What adapter it runs on, for messages.
    pub adapter: String,
}

impl GpuVision {
    /// Opens the default adapter and uploads the vision tables of `sim`'s current configuration.
    pub fn new(sim: &Simulation) -> Result<Self, RenderError> {
        pollster::block_on(Self::open(sim))
    }

    async fn open(sim: &Simulation) -> Result<Self, RenderError> {
        let (device, queue, adapter) = open_device().await?;
        let config = sim.current_config();
        let tables = Tables::of(sim);
        let init = |contents: &[u8], label| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let ftab = init(bytemuck::cast_slice(&tables.floats), "vision floats");
        let utab = init(bytemuck::cast_slice(&tables.indices), "vision indices");
        let (layout, count_pipeline, vision_pipeline) = pipelines(&device);
        let limits = device.limits();
        let binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        let per_obs = (tables.cells * tables.channels * 4).max(4) as u64;
        let per_patch = (config.patch_size * config.patch_size * 4) as u64;
        let atlas = storage(&device, 0, "vision atlas");
        let counts = storage(&device, 0, "vision agent counts");
        let record_buffer = storage(&device, 0, "vision agent records");
        Ok(GpuVision {
            device,
            queue,
            count_pipeline,
            vision_pipeline,
            layout,
            ftab,
            utab,
            looks: Looks::of(config),
            params: tables.params,
            cells: tables.cells,
            channels: tables.channels,
            per_dispatch: (binding / per_obs).max(1) as usize,
            max_slots: (binding / per_patch).max(1) as usize,
            resident: FxHashMap::default(),
            free: Vec::new(),
            slots: 0,
            uploads: Vec::new(),
            upload_slots: Vec::new(),
            atlas,
            counts,
            records: Vec::new(),
            record_buffer,
            chunks: Vec::new(),
            readback: None,
            agents: 0,
            uploaded: 0,
            calls: 0,
            adapter,
        })
    }

    /// Lowers the most agents one dispatch takes (never above what the device allows); a batch
    /// with more agents is computed in several dispatches.
    pub fn limit_agents_per_dispatch(&mut self, agents: usize) {
        self.per_dispatch = self.per_dispatch.min(agents.max(1));
        self.chunks.clear();
    }

    /// Floats per observation: `(2R+1)² · C`.
    pub fn observation_len(&self) -> usize {
        self.cells * self.channels
    }

    /// Patches resident on the GPU now.
    pub fn resident_patches(&self) -> usize {
        self.resident.len()
    }

    /// Bytes uploaded to the GPU so far: agent records, parameters and changed patches.
    pub fn uploaded_bytes(&self) -> u64 {
        self.uploaded
    }

    /// Computes the vision of every agent of `worlds` (world 0's agents first, in order) into
    /// `out` (`observation_len()` floats each), as [`Simulation::observe`] would.
    pub fn observe(&mut self, worlds: &[&Simulation], out: &mut [f32]) -> Result<(), RenderError> {
        self.compute(worlds)?;
        self.read(out)
    }

    /// Computes the vision of every agent of `worlds` on the GPU and leaves it there; returns
    /// how many agents that is. `worlds[w]` should be the same world from call to call (another
    /// world there is noticed by its seed and patch versions and costs a fresh upload). Patches
    /// whose items changed since the last call are uploaded again; nothing else of the world is.
    /// Fails if a world's vision settings differ from those this was made for.
    pub fn compute(&mut self, worlds: &[&Simulation]) -> Result<usize, RenderError> {
        let agents = self.gather(worlds)?;
        if agents == 0 || self.observation_len() == 0 {
            return Ok(agents);
        }
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        let grown = self.grow(&mut encoder, agents);
        // The copy of the old atlas into a grown one must come before this call's uploads.
        if grown {
            self.queue.submit([encoder.finish()]);
            encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        }
        self.upload();
        let (cx, cy) = self.prepare_chunks(agents, grown);
        let n2 = self.looks.patch_size * self.looks.patch_size;
        encoder.clear_buffer(&self.counts, 0, Some(u64::from(self.slots) * n2 as u64 * 4));
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&self.count_pipeline);
            pass.set_bind_group(0, &self.chunks[0].group, &[]);
            pass.dispatch_workgroups(cx, cy, 1);
        }
        self.encode_vision(&mut encoder);
        self.queue.submit([encoder.finish()]);
        Ok(agents)
    }

    /// Starts a call: the records of every agent of `worlds`, the patches their windows touch
    /// made resident (queued for upload where they changed), slots unused for a while given
    /// back. Returns how many agents there are; fails on a world of other vision settings or
    /// windows that touch more patches than the device holds.
    fn gather(&mut self, worlds: &[&Simulation]) -> Result<usize, RenderError> {
        self.calls += 1;
        self.records.clear();
        self.uploads.clear();
        self.upload_slots.clear();
        for (w, sim) in worlds.iter().enumerate() {
            if !self.looks.matches(sim.current_config()) {
                return Err(RenderError::Settings(format!(
                    "world {w}'s vision settings (range, field of view, colours, occlusion or patch \
                     size) are not those the GPU tables were made for"
                )));
            }
            self.place_agents(w as u32, sim);
        }
        self.agents = self.records.len() / RECORD;
        self.give_back_unused();
        if self.slots as usize > self.max_slots {
            let n2 = self.looks.patch_size * self.looks.patch_size;
            return Err(RenderError::Settings(format!(
                "the agents' windows touch {} patches; this GPU holds at most {} of {} cells",
                self.slots, self.max_slots, n2
            )));
        }
        Ok(self.agents)
    }

    /// Writes the changed patches into their atlas slots and this call's agent records.
    fn upload(&mut self) {
        let n2 = self.looks.patch_size * self.looks.patch_size;
        for (slot, cells) in self.upload_slots.iter().zip(self.uploads.chunks_exact(n2)) {
            self.queue.write_buffer(
                &self.atlas,
                u64::from(*slot) * n2 as u64 * 4,
                bytemuck::cast_slice(cells),
            );
        }
        self.queue.write_buffer(&self.record_buffer, 0, bytemuck::cast_slice(&self.records));
        self.uploaded += ((self.uploads.len() + self.records.len()) * 4) as u64;
    }

    /// Makes enough chunks for `agents` (all of them again when a buffer was `grown`, since
    /// their bind groups name it) and writes each chunk's parameters; returns the workgroup
    /// grid of the agent count pass.
    fn prepare_chunks(&mut self, agents: usize, grown: bool) -> (u32, u32) {
        let chunk = agents.min(self.per_dispatch);
        let wanted = agents.div_ceil(chunk);
        if grown || self.chunks.len() < wanted || self.chunk_agents() < chunk {
            self.chunks.clear();
            for _ in 0..wanted {
                let chunk = self.chunk(chunk);
                self.chunks.push(chunk);
            }
        }
        let max = self.device.limits().max_compute_workgroups_per_dimension;
        let grid = |invocations: usize| {
            let groups = invocations.div_ceil(WORKGROUP as usize) as u32;
            (groups.min(max), groups.div_ceil(max))
        };
        let (cx, cy) = grid(agents);
        for (c, first) in (0..agents).step_by(chunk).enumerate() {
            let count = chunk.min(agents - first);
            let (gx, _) = grid(count * self.cells);
            let mut params = self.params;
            params[0] = count as u32;
            params[11] = gx * WORKGROUP;
            params[13] = first as u32;
            params[14] = agents as u32;
            params[15] = cx * WORKGROUP;
            self.queue.write_buffer(&self.chunks[c].uniform, 0, bytemuck::cast_slice(&params));
            self.uploaded += PARAMS as u64;
        }
        (cx, cy)
    }

    /// Computes the last [`GpuVision::compute`]'s observations again from what is resident, and
    /// waits for them: the GPU's own share of the work (for benchmarks).
    pub fn recompute(&mut self) -> Result<(), RenderError> {
        if self.agents == 0 || self.chunks.is_empty() {
            return Ok(());
        }
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        self.encode_vision(&mut encoder);
        self.queue.submit([encoder.finish()]);
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        Ok(())
    }

    /// Copies the last [`GpuVision::compute`]'s observations into `out` (`observation_len()`
    /// floats per agent).
    pub fn read(&mut self, out: &mut [f32]) -> Result<(), RenderError> {
        let ol = self.observation_len();
        assert_eq!(out.len(), self.agents * ol, "one observation per agent of the last compute");
        if out.is_empty() {
            return Ok(());
        }
        let chunk = self.agents.min(self.per_dispatch);
        let size = (chunk * ol * 4) as u64;
        if self.readback.as_ref().is_none_or(|b| b.size() < size) {
            self.readback = Some(self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("vision readback"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let Some(readback) = &self.readback else { unreachable!("made above") };
        for (c, dst) in out.chunks_mut(chunk * ol).enumerate() {
            let bytes = (dst.len() * 4) as u64;
            let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            encoder.copy_buffer_to_buffer(&self.chunks[c].obs, 0, readback, 0, bytes);
            self.queue.submit([encoder.finish()]);
            read_back(&self.device, readback, bytes, |data| {
                dst.copy_from_slice(bytemuck::cast_slice(data));
            })?;
        }
        Ok(())
    }

    /// Appends the records of `sim`'s agents, making their blocks' patches resident.
    fn place_agents(&mut self, w: u32, sim: &Simulation) {
        let world = sim.world();
        let n = self.looks.patch_size;
        for agent in sim.agents() {
            let block = world.block(agent.position);
            let origin = block[0].origin(n);
            let (x, y) = (agent.position.x - origin.x, agent.position.y - origin.y);
            self.records.push(x as u32 | (y as u32) << 16);
            self.records.push(agent.facing as u32);
            for c in block {
                let slot = self.slot(w, sim, c);
                self.records.push(slot);
            }
        }
    }

    /// The slot of patch `c` of world `w`, uploading it if the GPU does not have it as it is.
    fn slot(&mut self, w: u32, sim: &Simulation, c: PatchCoord) -> u32 {
        let world = sim.world();
        let Some(patch) = world.patch(c) else { return NONE };
        let (seed, version) = (world.seed(), world.version(c));
        let calls = self.calls;
        let resident = match self.resident.get_mut(&(w, c)) {
            Some(r) if r.seed == seed && r.version == version => {
                r.used = calls;
                return r.slot;
            }
            Some(r) => {
                (r.seed, r.version, r.used) = (seed, version, calls);
                r.slot
            }
            None => {
                let slot = self.free.pop().unwrap_or_else(|| {
                    self.slots += 1;
                    self.slots - 1
                });
                self.resident.insert((w, c), Resident { slot, seed, version, used: calls });
                slot
            }
        };
        self.upload_slots.push(resident);
        self.uploads.extend(patch.occupancy().iter().map(|&t| u32::from(t)));
        resident
    }

    /// Frees the slots of patches no agent's window has touched for a while.
    fn give_back_unused(&mut self) {
        let (calls, free) = (self.calls, &mut self.free);
        self.resident.retain(|_, r| {
            let keep = r.used + KEEP_CALLS > calls;
            if !keep {
                free.push(r.slot);
            }
            keep
        });
    }

    /// Grows the atlas (keeping its contents), the agent counts and the records to what this call
    /// needs; returns whether any buffer changed (the bind groups must be made again).
    fn grow(&mut self, encoder: &mut wgpu::CommandEncoder, agents: usize) -> bool {
        let n2 = (self.looks.patch_size * self.looks.patch_size) as u64;
        let mut grown = false;
        let atlas_size = u64::from(self.slots) * n2 * 4;
        if self.atlas.size() < atlas_size {
            let size = (atlas_size * 2).min(self.max_slots as u64 * n2 * 4).max(atlas_size);
            let atlas = storage(&self.device, size, "vision atlas");
            encoder.copy_buffer_to_buffer(&self.atlas, 0, &atlas, 0, self.atlas.size());
            self.atlas = atlas;
            self.counts = storage(&self.device, size, "vision agent counts");
            grown = true;
        }
        let records_size = (agents * RECORD * 4) as u64;
        if self.record_buffer.size() < records_size {
            self.record_buffer = storage(&self.device, records_size * 2, "vision agent records");
            grown = true;
        }
        grown
    }

    /// Agents each chunk has room for.
    fn chunk_agents(&self) -> usize {
        self.chunks.first().map_or(0, |c| c.obs.size() as usize / (self.observation_len() * 4))
    }

    fn chunk(&self, agents: usize) -> Chunk {
        let uniform = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("vision params"),
            size: PARAMS as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let obs = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("vision out"),
            size: (agents * self.observation_len() * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let buffers =
            [&uniform, &self.record_buffer, &self.ftab, &self.utab, &self.atlas, &self.counts, &obs];
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("vision"),
            layout: &self.layout,
            entries: &entries,
        });
        Chunk { uniform, obs, group }
    }

    fn encode_vision(&self, encoder: &mut wgpu::CommandEncoder) {
        let chunk = self.agents.min(self.per_dispatch);
        let max = self.device.limits().max_compute_workgroups_per_dimension;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(&self.vision_pipeline);
        for (c, first) in (0..self.agents).step_by(chunk).enumerate() {
            let count = chunk.min(self.agents - first);
            let groups = (count * self.cells).div_ceil(WORKGROUP as usize) as u32;
            pass.set_bind_group(0, &self.chunks[c].group, &[]);
            pass.dispatch_workgroups(groups.min(max), groups.div_ceil(max), 1);
        }
    }
}

/// The vision tables of one configuration as the shader reads them.
struct Tables {
    /// Keep weights (4 facings), occlusion × fraction per item type and caster entry, item
    /// colours, the agent colour.
    floats: Vec<f32>,
    /// Rotations (4 facings), caster starts, caster offsets.
    indices: Vec<u32>,
    /// The uniform's fixed part: where each table starts and the sizes.
    params: [u32; PARAMS / 4],
    cells: usize,
    channels: usize,
}

impl Tables {
    fn of(sim: &Simulation) -> Self {
        let layout = sim.vision_tables().layout();
        let config = sim.current_config();
        let (cells, channels) = (layout.side * layout.side, layout.channels);
        let mut floats: Vec<f32> = layout.keep.iter().flatten().copied().collect();
        let product_at = floats.len();
        let shaded = layout.occlusion.is_some();
        for occlusion in layout.occlusion.iter().flatten() {
            floats.extend(layout.cast_fraction.iter().map(|f| occlusion * f));
        }
        let colour_at = floats.len();
        for item in &config.items {
            floats.extend(item.color.iter().take(channels));
        }
        let agent_colour_at = floats.len();
        floats.extend(config.vision.agent_color.iter().take(channels));
        floats.push(0.0); // (never an empty binding)
        let mut indices: Vec<u32> = layout.ego.iter().flatten().copied().collect();
        let start_at = indices.len();
        indices.extend(&layout.cast_start);
        let from_at = indices.len();
        indices.extend(&layout.cast_from);
        let mut params = [0u32; PARAMS / 4];
        params[1] = cells as u32;
        params[2] = channels as u32;
        params[3] = layout.cast_from.len() as u32;
        params[4] = 0; // keep_at
        params[5] = product_at as u32;
        params[6] = colour_at as u32;
        params[7] = agent_colour_at as u32;
        params[8] = 0; // ego_at
        params[9] = start_at as u32;
        params[10] = from_at as u32;
        params[12] = u32::from(shaded);
        params[16] = config.patch_size as u32;
        params[17] = layout.side as u32;
        params[18] = sim.vision_tables().range() as u32;
        Tables { floats, indices, params, cells, channels }
    }
}

/// The vision shader's bind group layout and its two pipelines: counting agents per cell, and
/// the observations.
fn pipelines(device: &wgpu::Device) -> (wgpu::BindGroupLayout, wgpu::ComputePipeline, wgpu::ComputePipeline) {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("vision"),
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let read = wgpu::BufferBindingType::Storage { read_only: true };
    let write = wgpu::BufferBindingType::Storage { read_only: false };
    let (bind_layout, pipeline_layout) = buffer_layouts(
        device,
        "vision",
        wgpu::ShaderStages::COMPUTE,
        &[wgpu::BufferBindingType::Uniform, read, read, read, read, write, write],
    );
    let pipeline = |entry: &str| {
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        })
    };
    (bind_layout, pipeline("count_agents"), pipeline("main"))
}

/// A storage buffer of at least 4 bytes that can be copied to and from.
fn storage(device: &wgpu::Device, size: u64, label: &str) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size.max(4),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}
