//! How the application's command type becomes an entry's bytes and back.

/// Encodes and decodes the application's data (`RaftTypeConfig::D`) for Normal entries.
pub trait DataCodec<D>: Send + Sync + 'static {
    /// The bytes of `data`.
    fn encode(&self, data: &D) -> Result<Vec<u8>, String>;
    /// `bytes` as data; an error names what was wrong (the entry is then refused, never guessed).
    fn decode(&self, bytes: &[u8]) -> Result<D, String>;

    /// Appends the bytes of `data` to `out` (all of a request's commands share one buffer).
    /// The default calls [`DataCodec::encode`]; a codec that can write in place should.
    fn encode_into(&self, data: &D, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(&self.encode(data)?);
        Ok(())
    }
}

/// The serde default: JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<D: serde::Serialize + serde::de::DeserializeOwned> DataCodec<D> for Json {
    fn encode(&self, data: &D) -> Result<Vec<u8>, String> {
        serde_json::to_vec(data).map_err(|e| e.to_string())
    }

    fn decode(&self, bytes: &[u8]) -> Result<D, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    fn encode_into(&self, data: &D, out: &mut Vec<u8>) -> Result<(), String> {
        serde_json::to_writer(out, data).map_err(|e| e.to_string())
    }
}
