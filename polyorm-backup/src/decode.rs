//! Rows of a model known only at run time, read into [`Value`]s.
//!
//! The executors take a decoder as a plain `fn` pointer, which cannot capture the descriptor
//! of the rows it decodes. Each descriptor a backup reads is therefore given a slot of a
//! fixed table once, for the life of the process, and the decoder monomorphized for that slot
//! reads the descriptor back from it: [`SLOTS`] distinct models per process at most.

use std::sync::{Mutex, OnceLock};

use polyorm_core::exec::Decoder;
use polyorm_core::{ColumnType, ModelSchema, RowRef, Value};

use crate::error::{BackupError, Result};

/// How many distinct models one process can read (one decoder slot each).
pub const SLOTS: usize = 256;

static SCHEMAS: [OnceLock<&'static ModelSchema>; SLOTS] = [const { OnceLock::new() }; SLOTS];
static TAKEN: Mutex<usize> = Mutex::new(0);

macro_rules! decoders {
    ($($n:literal)*) => {
        [$(decode_slot::<$n> as Decoder<Vec<Value>>),*]
    };
}

static DECODERS: [Decoder<Vec<Value>>; SLOTS] = decoders!(
    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33
    34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64
    65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95
    96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119
    120 121 122 123 124 125 126 127 128 129 130 131 132 133 134 135 136 137 138 139 140 141 142
    143 144 145 146 147 148 149 150 151 152 153 154 155 156 157 158 159 160 161 162 163 164 165
    166 167 168 169 170 171 172 173 174 175 176 177 178 179 180 181 182 183 184 185 186 187 188
    189 190 191 192 193 194 195 196 197 198 199 200 201 202 203 204 205 206 207 208 209 210 211
    212 213 214 215 216 217 218 219 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234
    235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255
);

/// The decoder of every column of `schema`, in schema order, into values.
///
/// # Errors
/// [`BackupError::Config`] once [`SLOTS`] distinct models were read by this process.
pub fn decoder_for(schema: &'static ModelSchema) -> Result<Decoder<Vec<Value>>> {
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(slot) =
        (0..*taken).find(|&i| SCHEMAS[i].get().is_some_and(|s| std::ptr::eq(*s, schema)))
    {
        return Ok(DECODERS[slot]);
    }
    if *taken == SLOTS {
        return Err(BackupError::Config(format!(
            "one process can back up or verify at most {SLOTS} distinct models"
        )));
    }
    let slot = *taken;
    let _ = SCHEMAS[slot].set(schema);
    *taken += 1;
    Ok(DECODERS[slot])
}

fn decode_slot<const N: usize>(row: &RowRef<'_>) -> polyorm_core::Result<Vec<Value>> {
    let schema = SCHEMAS[N].get().ok_or_else(|| {
        polyorm_core::Error::InvalidQuery("a backup decoder ran before its model was set".into())
    })?;
    polyorm_core::value::decode_columns(row, schema)
}

/// The column at `index` of `row`, decoded as the logical type `ty` says
/// ([`polyorm_core::value::decode_column`]).
pub fn column_value(row: &RowRef<'_>, index: usize, ty: ColumnType) -> polyorm_core::Result<Value> {
    polyorm_core::value::decode_column(row, index, ty)
}
