//! Batched vision on the GPU: the observations of many agents (across worlds) in one dispatch,
//! bit-identical to [`Simulation::observe`]'s vision. The CPU gives each agent's window as codes
//! ([`Simulation::vision_codes`]); the kernel (`assets/shaders/vision.wgsl`) applies the same
//! field-of-view weights, shadows and rotation from the same tables, in the same order.

use beanworld_sim::Simulation;
use wgpu::util::DeviceExt;

use crate::frame::{RenderError, buffer_layouts, open_device, read_back};

const SHADER: &str = include_str!("../../../assets/shaders/vision.wgsl");
const WORKGROUP: u32 = 64;

/// Buffers sized for a number of agents, and their bind group; grown, never shrunk.
struct Batch {
    agents: usize,
    codes: wgpu::Buffer,
    obs: wgpu::Buffer,
    readback: wgpu::Buffer,
    group: wgpu::BindGroup,
}

/// A device with the vision kernel and the tables of one configuration.
pub struct GpuVision {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    ftab: wgpu::Buffer,
    utab: wgpu::Buffer,
    uniform: wgpu::Buffer,
    /// The codes as bytes, reused from call to call.
    staging: Vec<u8>,
    /// The uniform's fixed part (all but agents, row, first_agent).
    params: [u32; 16],
    cells: usize,
    channels: usize,
    /// Most agents one dispatch may write (the storage binding limit).
    per_dispatch: usize,
    batch: Option<Batch>,
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
        let layout = sim.vision_tables().layout();
        let config = sim.current_config();
        let (cells, channels) = (layout.side * layout.side, layout.channels);
        let entries = layout.cast_from.len();
        // Float table: keep (4 facings), occlusion × fraction per item type and caster entry,
        // item colours, agent colour.
        let mut ftab: Vec<f32> = layout.keep.iter().flatten().copied().collect();
        let product_at = ftab.len();
        let shaded = layout.occlusion.is_some();
        for occlusion in layout.occlusion.iter().flatten() {
            ftab.extend(layout.cast_fraction.iter().map(|f| occlusion * f));
        }
        let colour_at = ftab.len();
        for item in &config.items {
            ftab.extend(item.color.iter().take(channels));
        }
        let agent_colour_at = ftab.len();
        ftab.extend(config.vision.agent_color.iter().take(channels));
        ftab.push(0.0); // (never an empty binding)
        // Integer table: rotations (4 facings), caster starts, caster offsets.
        let mut utab: Vec<u32> = layout.ego.iter().flatten().copied().collect();
        let start_at = utab.len();
        utab.extend(&layout.cast_start);
        let from_at = utab.len();
        utab.extend(&layout.cast_from);
        let offsets = [0, product_at, colour_at, agent_colour_at, 0, start_at, from_at];
        let [keep_at, product_at, colour_at, agent_colour_at, ego_at, start_at, from_at] =
            offsets.map(|o| o as u32);
        let params = [
            0,
            cells as u32,
            channels as u32,
            entries as u32,
            keep_at,
            product_at,
            colour_at,
            agent_colour_at,
            ego_at,
            start_at,
            from_at,
            0,
            u32::from(shaded),
            0,
            0,
            0,
        ];
        let init = |contents: &[u8], label| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let ftab = init(&bytes_f32(&ftab), "vision floats");
        let utab = init(&bytes_u32(&utab), "vision indices");
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("vision"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let read = wgpu::BufferBindingType::Storage { read_only: true };
        let (bind_layout, pipeline_layout) = buffer_layouts(
            &device,
            "vision",
            wgpu::ShaderStages::COMPUTE,
            &[
                wgpu::BufferBindingType::Uniform,
                read,
                read,
                read,
                wgpu::BufferBindingType::Storage { read_only: false },
            ],
        );
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("vision"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("vision params"),
            size: 64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let limits = device.limits();
        let binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        let per_obs = (cells * channels * 4).max(4) as u64;
        let per_dispatch = (binding / per_obs).max(1) as usize;
        Ok(GpuVision {
            device,
            queue,
            pipeline,
            layout: bind_layout,
            ftab,
            utab,
            uniform,
            staging: Vec::new(),
            params,
            cells,
            channels,
            per_dispatch,
            batch: None,
            adapter,
        })
    }

    /// Lowers the most agents one dispatch takes (never above what the device allows); a batch
    /// with more agents is computed in several dispatches.
    pub fn limit_agents_per_dispatch(&mut self, agents: usize) {
        self.per_dispatch = self.per_dispatch.min(agents.max(1));
        self.batch = None;
    }

    /// Codes per agent: `(2R+1)² + 1` (see [`Simulation::vision_codes`]).
    pub fn codes_len(&self) -> usize {
        self.cells + 1
    }

    /// Floats per observation: `(2R+1)² · C`.
    pub fn observation_len(&self) -> usize {
        self.cells * self.channels
    }

    /// Computes the vision of every agent whose codes are in `codes` (`codes_len()` each) into
    /// `out` (`observation_len()` each), as [`Simulation::observe`] would.
    pub fn observe(&mut self, codes: &[u32], out: &mut [f32]) -> Result<(), RenderError> {
        let agents = codes.len() / self.codes_len();
        assert_eq!(codes.len(), agents * self.codes_len(), "codes come whole per agent");
        assert_eq!(out.len(), agents * self.observation_len(), "one observation per agent");
        if agents == 0 || self.observation_len() == 0 {
            return Ok(());
        }
        let chunk = agents.min(self.per_dispatch);
        if self.batch.as_ref().is_none_or(|b| b.agents < agents.max(chunk)) {
            self.batch = Some(self.allocate(agents));
        }
        let Some(batch) = &self.batch else { unreachable!("allocated above") };
        self.staging.clear();
        self.staging.extend(codes.iter().flat_map(|c| c.to_le_bytes()));
        self.queue.write_buffer(&batch.codes, 0, &self.staging);
        let obs_len = self.observation_len();
        for first in (0..agents).step_by(chunk) {
            let n = chunk.min(agents - first);
            let groups = (n * self.cells).div_ceil(WORKGROUP as usize) as u32;
            let max = self.device.limits().max_compute_workgroups_per_dimension;
            let (gx, gy) = (groups.min(max), groups.div_ceil(max));
            let mut params = self.params;
            params[0] = n as u32;
            params[11] = gx * WORKGROUP;
            params[13] = first as u32;
            let mut uniform = [0u8; 64];
            for (dst, p) in uniform.chunks_exact_mut(4).zip(params) {
                dst.copy_from_slice(&p.to_le_bytes());
            }
            self.queue.write_buffer(&self.uniform, 0, &uniform);
            let bytes = (n * obs_len * 4) as u64;
            let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &batch.group, &[]);
                pass.dispatch_workgroups(gx, gy, 1);
            }
            encoder.copy_buffer_to_buffer(&batch.obs, 0, &batch.readback, 0, bytes);
            self.queue.submit([encoder.finish()]);
            let dst = &mut out[first * obs_len..(first + n) * obs_len];
            read_back(&self.device, &batch.readback, bytes, |data| {
                for (o, b) in dst.iter_mut().zip(data.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            })?;
        }
        Ok(())
    }

    fn allocate(&self, agents: usize) -> Batch {
        let chunk = agents.min(self.per_dispatch);
        let buffer = |size: usize, usage, label| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(4) as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        let codes = buffer(agents * self.codes_len() * 4, U::STORAGE | U::COPY_DST, "vision codes");
        let obs = buffer(chunk * self.observation_len() * 4, U::STORAGE | U::COPY_SRC, "vision out");
        let readback =
            buffer(chunk * self.observation_len() * 4, U::MAP_READ | U::COPY_DST, "vision readback");
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("vision"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: self.uniform.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: codes.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: self.ftab.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: self.utab.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 4, resource: obs.as_entire_binding() },
            ],
        });
        Batch { agents, codes, obs, readback, group }
    }
}

fn bytes_u32(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bytes_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
