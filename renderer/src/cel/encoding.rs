//! A compact byte encoding of CEL syntax trees (the `cel` crate's `IdedExpr`), so that the
//! built-in charts' expressions are parsed when kiln is built rather than every time it
//! starts: `renderer/build.rs` includes this file to encode them, and `cel::prebuilt` decodes
//! them. The encoding is private to one build of kiln; nothing reads it across versions.
//!
//! Each node is its id (LEB128), a tag byte, then its fields in declaration order; strings
//! and lists are a length then their items. The parent module (or build.rs) provides `ast`
//! and `types`, the `cel` crate's syntax and literal types.

use super::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedEntryExpr, IdedExpr, ListExpr, LiteralValue,
    MapEntryExpr, MapExpr, SelectExpr, StructExpr, StructFieldExpr,
};
use super::types::{CelBool, CelBytes, CelDouble, CelInt, CelString, CelUInt};

/// How deep a decoded tree may nest: far beyond any parsed expression, and a bound on the
/// decoder's recursion whatever the bytes.
const MAX_DEPTH: usize = 1_000;

/// The bytes of `tree`.
pub fn encode(tree: &IdedExpr) -> Vec<u8> {
    let mut out = Vec::new();
    expr(&mut out, tree);
    out
}

/// The tree `encode` gave these bytes for; `None` for bytes it did not give.
pub fn decode(bytes: &[u8]) -> Option<IdedExpr> {
    let mut reader = Reader { bytes, depth: 0 };
    let tree = reader.expr()?;
    reader.bytes.is_empty().then_some(tree)
}

fn number(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn bytes(out: &mut Vec<u8>, data: &[u8]) {
    number(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn flag(out: &mut Vec<u8>, value: bool) {
    out.push(u8::from(value));
}

fn expr(out: &mut Vec<u8>, tree: &IdedExpr) {
    number(out, tree.id);
    match &tree.expr {
        Expr::Unspecified => out.push(0),
        Expr::Call(call) => {
            out.push(1);
            bytes(out, call.func_name.as_bytes());
            flag(out, call.target.is_some());
            if let Some(target) = &call.target {
                expr(out, target);
            }
            exprs(out, &call.args);
        }
        Expr::Comprehension(comprehension) => {
            out.push(2);
            expr(out, &comprehension.iter_range);
            bytes(out, comprehension.iter_var.as_bytes());
            flag(out, comprehension.iter_var2.is_some());
            if let Some(name) = &comprehension.iter_var2 {
                bytes(out, name.as_bytes());
            }
            bytes(out, comprehension.accu_var.as_bytes());
            expr(out, &comprehension.accu_init);
            expr(out, &comprehension.loop_cond);
            expr(out, &comprehension.loop_step);
            expr(out, &comprehension.result);
        }
        Expr::Ident(name) => {
            out.push(3);
            bytes(out, name.as_bytes());
        }
        Expr::List(list) => {
            out.push(4);
            exprs(out, &list.elements);
            number(out, list.optional_indices.len() as u64);
            for index in &list.optional_indices {
                number(out, *index as u64);
            }
        }
        Expr::Literal(literal) => {
            out.push(5);
            match literal {
                LiteralValue::Boolean(value) => {
                    out.push(0);
                    flag(out, *value.inner());
                }
                LiteralValue::Bytes(value) => {
                    out.push(1);
                    bytes(out, value.inner());
                }
                LiteralValue::Double(value) => {
                    out.push(2);
                    out.extend_from_slice(&value.inner().to_bits().to_le_bytes());
                }
                LiteralValue::Int(value) => {
                    out.push(3);
                    out.extend_from_slice(&value.inner().to_le_bytes());
                }
                LiteralValue::Null => out.push(4),
                LiteralValue::String(value) => {
                    out.push(5);
                    bytes(out, value.inner().as_bytes());
                }
                LiteralValue::UInt(value) => {
                    out.push(6);
                    number(out, *value.inner());
                }
            }
        }
        Expr::Map(map) => {
            out.push(6);
            entries(out, &map.entries);
        }
        Expr::Select(select) => {
            out.push(7);
            expr(out, &select.operand);
            bytes(out, select.field.as_bytes());
            flag(out, select.test);
        }
        Expr::Struct(object) => {
            out.push(8);
            bytes(out, object.type_name.as_bytes());
            entries(out, &object.entries);
        }
    }
}

fn exprs(out: &mut Vec<u8>, trees: &[IdedExpr]) {
    number(out, trees.len() as u64);
    for tree in trees {
        expr(out, tree);
    }
}

fn entries(out: &mut Vec<u8>, entries: &[IdedEntryExpr]) {
    number(out, entries.len() as u64);
    for entry in entries {
        number(out, entry.id);
        match &entry.expr {
            EntryExpr::StructField(field) => {
                out.push(0);
                bytes(out, field.field.as_bytes());
                expr(out, &field.value);
                flag(out, field.optional);
            }
            EntryExpr::MapEntry(pair) => {
                out.push(1);
                expr(out, &pair.key);
                expr(out, &pair.value);
                flag(out, pair.optional);
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if count > self.bytes.len() {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Some(taken)
    }

    fn number(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn count(&mut self) -> Option<usize> {
        let count = usize::try_from(self.number()?).ok()?;
        // Every item takes a byte at least: a larger count is not ours.
        (count <= self.bytes.len()).then_some(count)
    }

    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let length = self.count()?;
        self.take(length)
    }

    fn text(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes()?).ok().map(str::to_owned)
    }

    fn eight(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }

    fn expr(&mut self) -> Option<IdedExpr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let id = self.number()?;
        let expr = match self.byte()? {
            0 => Expr::Unspecified,
            1 => {
                let func_name = self.text()?;
                let target = match self.flag()? {
                    true => Some(Box::new(self.expr()?)),
                    false => None,
                };
                let args = self.exprs()?;
                Expr::Call(CallExpr {
                    func_name,
                    target,
                    args,
                })
            }
            2 => {
                let iter_range = self.expr()?;
                let iter_var = self.text()?;
                let iter_var2 = match self.flag()? {
                    true => Some(self.text()?),
                    false => None,
                };
                Expr::Comprehension(Box::new(ComprehensionExpr {
                    iter_range,
                    iter_var,
                    iter_var2,
                    accu_var: self.text()?,
                    accu_init: self.expr()?,
                    loop_cond: self.expr()?,
                    loop_step: self.expr()?,
                    result: self.expr()?,
                }))
            }
            3 => Expr::Ident(self.text()?),
            4 => {
                let elements = self.exprs()?;
                let count = self.count()?;
                let optional_indices = (0..count)
                    .map(|_| usize::try_from(self.number()?).ok())
                    .collect::<Option<Vec<_>>>()?;
                Expr::List(ListExpr {
                    elements,
                    optional_indices,
                })
            }
            5 => Expr::Literal(match self.byte()? {
                0 => LiteralValue::Boolean(CelBool::from(self.flag()?)),
                1 => LiteralValue::Bytes(CelBytes::from(self.bytes()?.to_vec())),
                2 => LiteralValue::Double(CelDouble::from(f64::from_bits(u64::from_le_bytes(
                    self.eight()?,
                )))),
                3 => LiteralValue::Int(CelInt::from(i64::from_le_bytes(self.eight()?))),
                4 => LiteralValue::Null,
                5 => LiteralValue::String(CelString::from(self.text()?)),
                6 => LiteralValue::UInt(CelUInt::from(self.number()?)),
                _ => return None,
            }),
            6 => Expr::Map(MapExpr {
                entries: self.entries()?,
            }),
            7 => {
                let operand = Box::new(self.expr()?);
                let field = self.text()?;
                let test = self.flag()?;
                Expr::Select(SelectExpr {
                    operand,
                    field,
                    test,
                })
            }
            8 => {
                let type_name = self.text()?;
                let entries = self.entries()?;
                Expr::Struct(StructExpr { type_name, entries })
            }
            _ => return None,
        };
        self.depth -= 1;
        Some(IdedExpr { id, expr })
    }

    fn exprs(&mut self) -> Option<Vec<IdedExpr>> {
        let count = self.count()?;
        (0..count).map(|_| self.expr()).collect()
    }

    fn entries(&mut self) -> Option<Vec<IdedEntryExpr>> {
        let count = self.count()?;
        (0..count)
            .map(|_| {
                let id = self.number()?;
                let expr = match self.byte()? {
                    0 => EntryExpr::StructField(StructFieldExpr {
                        field: self.text()?,
                        value: self.expr()?,
                        optional: self.flag()?,
                    }),
                    1 => EntryExpr::MapEntry(MapEntryExpr {
                        key: self.expr()?,
                        value: self.expr()?,
                        optional: self.flag()?,
                    }),
                    _ => return None,
                };
                Some(IdedEntryExpr { id, expr })
            })
            .collect()
    }
}
