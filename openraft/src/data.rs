//! How the application's command type becomes an entry's bytes and back.

/// Encodes and decodes the application's data (`RaftTypeConfig::D`) for Normal entries.
pub trait DataCodec<D>: Send + Sync + 'static {
    /// The bytes of `data`.
    fn encode(&self, data: &D) -> Result<Vec<u8>, String>;
    /// `bytes` as data; an error names what was wrong (the entry is then refused, never guessed).
    fn decode(&self, bytes: &[u8]) -> Result<D, String>;
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
}
