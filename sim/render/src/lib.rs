//! beanworld-render: draws worlds on the GPU with wgpu, without a window — frames of a region
//! (items in their colours, agents as triangles pointing where they face) read back as RGBA and
//! written as PNG. It runs on a real GPU or on a software adapter (Mesa's lavapipe in CI). The
//! pixel rules are integer arithmetic shared by the WGSL shader (`assets/shaders/frame.wgsl`) and
//! [`frame::reference`], so a frame can be checked against the CPU exactly. Batched vision
//! ([`vision::GpuVision`]) computes many agents' observations in one dispatch, bit-identical to
//! the CPU path.

pub mod frame;
pub mod vision;

pub use frame::{CellImage, Renderer};
pub use vision::GpuVision;
