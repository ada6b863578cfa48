//! Custom scalars: `Rupiah` (whole rupiah, a JSON integer) and `Decimal` (exact
//! decimal as a JSON string, for provider rates and exchange rates).

use std::str::FromStr;

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use bigdecimal::BigDecimal;

/// An amount of Indonesian rupiah, whole units, 64-bit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rupiah(pub i64);

#[Scalar(name = "Rupiah")]
impl ScalarType for Rupiah {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_i64()
                .map(Rupiah)
                .ok_or_else(|| InputValueError::custom("Rupiah must be a whole number of rupiah")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// An exact decimal number, written as a string such as "0.90" or "16250.5".
#[derive(Debug, Clone, PartialEq)]
pub struct Decimal(pub BigDecimal);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            _ => {
                return Err(InputValueError::custom(
                    "Decimal must be a string such as \"0.90\"",
                ));
            }
        };
        let parsed = BigDecimal::from_str(text.trim())
            .map_err(|_| InputValueError::custom(format!("{text:?} is not a decimal number")))?;
        if parsed.fractional_digit_count() > 6 || parsed.digits() > 20 {
            return Err(InputValueError::custom(
                "Decimal allows at most 20 digits, 6 after the point",
            ));
        }
        Ok(Decimal(parsed))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.normalized().to_plain_string())
    }
}
