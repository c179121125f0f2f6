//! The two compound factors: spend-based (a supply-chain factor per US
//! dollar of a price year, the spend converted to that currency and price
//! year, each step cited) and energy estimates (kWh per unit times the grid
//! factor). Both are the least precise methods and say so in their method.

use serde::{Deserialize, Serialize};

use super::factors::{number, Choice, Estimate, Factor, Factors};
use super::lines::{Activity, Line};
use super::rules::Rule;

/// A supply-chain factor: kg CO2e per US dollar of `price_year`,
/// purchaser price (with margins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendFactor {
    pub set: String,
    pub code: String,
    pub title: String,
    pub kgco2e: String,
    pub price_year: i32,
    pub source: String,
}

/// US dollars per unit of a currency, a year's average.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRate {
    pub year: i32,
    pub currency: String,
    pub usd_per_unit: String,
    pub source: String,
}

/// A US price index's annual average, to move dollars between years.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceIndex {
    pub year: i32,
    pub value: String,
    pub series: String,
    pub source: String,
}

/// Which spend a supply-chain category covers: ledger account codes (Xero's
/// default chart) or words in the account's or upload's category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendCategory {
    pub code: String,
    /// The GHG Protocol Scope 3 category the spend falls in.
    pub category: String,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub words: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SpendData {
    #[serde(rename(deserialize = "spend_factor", serialize = "factors"), default)]
    pub factors: Vec<SpendFactor>,
    #[serde(
        rename(deserialize = "exchange_rate", serialize = "exchange_rates"),
        default
    )]
    pub rates: Vec<ExchangeRate>,
    #[serde(rename = "price_index", default)]
    pub index: Vec<PriceIndex>,
    #[serde(
        rename(deserialize = "spend_category", serialize = "categories"),
        default
    )]
    pub categories: Vec<SpendCategory>,
}

impl SpendData {
    /// The category a spend detail (account code, or words) maps to.
    /// An account code matches exactly; otherwise a word matches where a
    /// word of the detail starts with it ("accountan" matches
    /// "Accountancy", "rent" does not match "current"), case and
    /// punctuation aside.
    pub fn category(&self, detail: &str) -> Option<&SpendCategory> {
        let d = detail.trim();
        let padded = format!(" {}", words(d));
        self.categories
            .iter()
            .find(|c| c.accounts.iter().any(|a| a == d))
            .or_else(|| {
                self.categories.iter().find(|c| {
                    c.words
                        .iter()
                        .any(|w| padded.contains(&format!(" {}", words(w))))
                })
            })
    }

    /// The year whose figure applies among `years` held: the spend's own,
    /// else the latest (or earliest) held, and why.
    fn nearest(years: impl Iterator<Item = i32>, year: i32) -> Option<(i32, Choice)> {
        let years: Vec<i32> = years.collect();
        if years.contains(&year) {
            return Some((year, Choice::ForYear));
        }
        let (min, max) = (*years.iter().min()?, *years.iter().max()?);
        Some(if year > max {
            (max, Choice::LatestHeld)
        } else {
            (min, Choice::EarliestHeld)
        })
    }
}

/// Lower case, every run of other than letters and digits one space.
fn words(s: &str) -> String {
    s.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A spend value's line: amount x USD per unit x price-index ratio x kg per
/// dollar of the factor's price year. Unmapped spend gives none.
pub fn line(rule: &Rule, set: &'static Factors, a: &Activity) -> Option<Line> {
    let data = &set.spend;
    let cat = data.category(a.detail)?;
    let f = data.factors.iter().find(|f| f.code == cat.code)?;
    // The rate and the price index each from the spend's year where held,
    // else the nearest held (chosen apart: a missing rate does not hold the
    // deflation back a year).
    let (index_year, index_choice) = SpendData::nearest(data.index.iter().map(|i| i.year), a.year)?;
    let (year, rate_choice) = match a.unit {
        "USD" => (a.year, Choice::ForYear),
        c => SpendData::nearest(
            data.rates
                .iter()
                .filter(|r| r.currency == c)
                .map(|r| r.year),
            a.year,
        )?,
    };
    let choice = if rate_choice == Choice::ForYear {
        index_choice
    } else {
        rate_choice
    };
    let index = |y: i32| {
        data.index
            .iter()
            .find(|i| i.year == y)
            .map(|i| number(&i.value))
    };
    let (rate, rate_ref) = match a.unit {
        "USD" => (1.0, String::new()),
        c => {
            let r = data
                .rates
                .iter()
                .find(|r| r.year == year && r.currency == c)?;
            (
                number(&r.usd_per_unit),
                format!("; {year} {c} = {} USD", r.usd_per_unit),
            )
        }
    };
    let deflate = index(f.price_year)? / index(index_year)?;
    let factor = number(&f.kgco2e) * rate * deflate;
    Some(Line {
        line: rule.line,
        scope: rule.scope,
        category: &cat.category,
        method: rule.method,
        factor_id: format!("{}/{}@{}{}/cpi{}", f.set, f.code, a.unit, year, index_year),
        factor_ref: format!(
            "{} {} ({}: {} kg CO2e per {} USD){rate_ref}; US CPI-U {index_year} -> {}",
            f.set, f.code, f.title, f.kgco2e, f.price_year, f.price_year
        ),
        edition: f.set.clone(),
        edition_choice: choice.as_str(),
        factor,
        factor_unit: a.unit.to_owned(),
        kgco2e: a.quantity * factor,
        gases: None,
        regional: 0,
    })
}

/// An energy estimate's line: units x kWh per unit x the grid factor.
pub fn estimate(rule: &Rule, e: &Estimate, grid: &Factor, choice: Choice, quantity: f64) -> Line {
    let factor = e.kwh() * grid.value();
    Line {
        line: rule.line,
        scope: rule.scope,
        category: rule.category,
        method: rule.method,
        factor_id: format!("{}/{}*{}", e.id, e.key, grid.id()),
        factor_ref: format!(
            "{} ({} kWh per {}) x {}",
            e.source, e.kwh, e.unit, grid.reference
        ),
        edition: grid.edition.clone(),
        edition_choice: choice.as_str(),
        factor,
        factor_unit: e.unit.clone(),
        kgco2e: quantity * factor,
        gases: None,
        regional: 0,
    }
}
