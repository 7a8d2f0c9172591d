//! The viewer's textures: RGBA8 images sampled with nearest filtering (one texel per cell stays a
//! sharp square at any zoom), filled from the packed colours that views carry, and the arrow that
//! agents are drawn with.

use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};

/// An RGBA8 image of `w × h` texels (at least one each way) filled with `pixel`.
pub(super) fn image(w: u32, h: u32, pixel: [u8; 4]) -> Image {
    let mut image = Image::new_fill(
        Extent3d { width: w.max(1), height: h.max(1), depth_or_array_layers: 1 },
        TextureDimension::D2,
        &pixel,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::MAIN_WORLD | RenderAssetUsages::RENDER_WORLD,
    );
    image.sampler = ImageSampler::nearest();
    image
}

/// Writes packed RGBA8 `cells` (red in the low byte) into `image`'s texels, rows from the top.
pub(super) fn fill(image: &mut Image, cells: impl Iterator<Item = u32>) {
    if let Some(data) = image.data.as_mut() {
        for (texel, c) in data.chunks_exact_mut(4).zip(cells) {
            texel.copy_from_slice(&c.to_le_bytes());
        }
    }
}

/// An arrow pointing up, 16 × 16, white (sprites tint it) on transparent.
pub(super) fn arrow() -> Image {
    let mut img = image(16, 16, [0, 0, 0, 0]);
    if let Some(data) = img.data.as_mut() {
        for row in 0..16usize {
            // Row 0 is the top: the tip.
            let half = (row as f32 + 1.0) * 0.45;
            for col in 0..16usize {
                let x = (col as f32 + 0.5 - 8.0).abs();
                if (1..=14).contains(&row) && x <= half {
                    data[(row * 16 + col) * 4..][..4].copy_from_slice(&[255, 255, 255, 255]);
                }
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_writes_packed_colours_red_first() {
        let mut img = image(2, 1, [0, 0, 0, 255]);
        fill(&mut img, [0xff00_00ff, 0x8040_2010].into_iter());
        assert_eq!(img.data.as_deref(), Some(&[255, 0, 0, 255, 0x10, 0x20, 0x40, 0x80][..]));
    }

    #[test]
    fn the_arrow_widens_from_its_tip_down() {
        let img = arrow();
        let data = img.data.as_deref().unwrap_or_default();
        let width = |row: usize| (0..16).filter(|col| data[(row * 16 + col) * 4 + 3] == 255).count();
        assert_eq!((width(0), width(15)), (0, 0), "a transparent rim above and below");
        assert_eq!((width(1), width(3), width(8), width(14)), (2, 4, 8, 14));
    }
}
