//! The column format of each data type a file or a manual reading can
//! carry: which units it accepts (and how they convert to the unit stored),
//! and the column that says what the type alone does not (fuel, travel
//! mode...). Data, like the catalog: adding a type is adding an entry.

use crate::sync::ActivityType;

/// How a unit becomes the stored unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Convert {
    /// Multiply by this factor.
    Factor(f64),
    /// A gas volume: cubic metres per unit, then to kWh by the volume
    /// correction and the calorific value (as Octopus SMETS2 gas).
    GasVolume(f64),
}

#[derive(Debug, Clone, Copy)]
pub struct Unit {
    /// Accepted spellings, matched case-insensitively; the first is canonical.
    pub names: &'static [&'static str],
    /// What is stored.
    pub stored: &'static str,
    pub convert: Convert,
}

/// The type-specific column.
#[derive(Debug, Clone, Copy)]
pub struct Detail {
    pub column: &'static str,
    /// Allowed values; `None` accepts any short label.
    pub values: Option<&'static [&'static str]>,
    pub required: bool,
    pub help: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// The catalog's data type (`electricity`, `fuel`...): the `type` column.
    pub data_type: &'static str,
    pub activity_type: ActivityType,
    pub summary: &'static str,
    pub units: &'static [Unit],
    pub detail: Option<Detail>,
    /// Extra optional columns this type reads.
    pub extra: &'static [(&'static str, &'static str)],
    /// Two example rows, in [`Template::columns`] order.
    pub examples: [&'static [&'static str]; 2],
}

/// The columns every type shares, with what each holds.
pub const COMMON: &[(&str, &str)] = &[
    ("start", "Start of the period: 2026-01-31, 31/01/2026, 2026-01-31T00:30:00 (UK time) or with an offset (2026-01-31T00:30:00Z)."),
    ("end", "End of the period. A date alone is inclusive (a bill from 2026-01-01 to 2026-01-31 covers all of January); a time is exclusive."),
    ("quantity", "The amount, a number from 0 to below 10^15 (a dot for decimals, no thousands separators)."),
    ("unit", "One of the type's units."),
    ("reference", "Optional: the meter (MPAN, MPRN), site, vehicle or account the row is about."),
    ("estimated", "Optional: yes/no (also true/false, 1/0, E/A)."),
];

const KWH: Unit = Unit {
    names: &["kWh"],
    stored: "kWh",
    convert: Convert::Factor(1.0),
};
const MWH: Unit = Unit {
    names: &["MWh"],
    stored: "kWh",
    convert: Convert::Factor(1000.0),
};
const KG: Unit = Unit {
    names: &["kg"],
    stored: "kg",
    convert: Convert::Factor(1.0),
};
const TONNES_AS_KG: Unit = Unit {
    names: &["tonnes", "t", "tonne"],
    stored: "kg",
    convert: Convert::Factor(1000.0),
};

pub static TEMPLATES: &[Template] = &[
    Template {
        data_type: "electricity",
        activity_type: ActivityType::ElectricityImport,
        summary: "Electricity bought from the grid (import) or sold back (export), per meter and period.",
        units: &[
            KWH,
            MWH,
            Unit { names: &["Wh"], stored: "kWh", convert: Convert::Factor(0.001) },
        ],
        detail: Some(Detail {
            column: "direction",
            values: Some(&["import", "export"]),
            required: false,
            help: "import (default) or export.",
        }),
        extra: &[
            ("tariff", "Optional: the tariff or supply contract (for market-based Scope 2), e.g. a REGO-backed renewable tariff."),
            ("region", "Optional: the GB grid region (1-17, as the Carbon Intensity API numbers them)."),
        ],
        examples: [
            &["2026-01-01", "2026-01-31", "1234.5", "kWh", "1012345678901", "no", "import", "", ""],
            &["2026-02-01T00:00:00Z", "2026-02-01T00:30:00Z", "0.42", "kWh", "1012345678901", "no", "import", "", "12"],
        ],
    },
    Template {
        data_type: "gas",
        activity_type: ActivityType::Gas,
        summary: "Mains gas, in kWh or as metered volume (converted to kWh with the calorific value).",
        units: &[
            KWH,
            MWH,
            Unit { names: &["m3", "m³", "cubic metres"], stored: "kWh", convert: Convert::GasVolume(1.0) },
            Unit { names: &["hcf", "100 ft3"], stored: "kWh", convert: Convert::GasVolume(2.831_684_659_2) },
        ],
        detail: None,
        extra: &[
            ("calorific_value", "Optional, for volumes: MJ/m3 from the bill (default 39.5)."),
            ("tariff", "Optional: the tariff or contract (e.g. green gas)."),
        ],
        examples: [
            &["2026-01-01", "2026-01-31", "2450", "kWh", "1234567890", "no", "", ""],
            &["2026-02-01", "2026-02-28", "210.4", "m3", "1234567890", "E", "39.2", ""],
        ],
    },
    Template {
        data_type: "fuel",
        activity_type: ActivityType::Fuel,
        summary: "Fuel burnt in vehicles, generators and boilers (Scope 1).",
        units: &[
            Unit { names: &["litres", "l", "litre", "liters", "liter"], stored: "litres", convert: Convert::Factor(1.0) },
            Unit { names: &["gallons", "gal", "uk gallons"], stored: "litres", convert: Convert::Factor(4.546_09) },
            KWH,
            KG,
            TONNES_AS_KG,
        ],
        detail: Some(Detail {
            column: "fuel",
            values: Some(&["diesel", "petrol", "lpg", "gas_oil", "burning_oil", "fuel_oil", "cng", "coal", "wood_pellets", "biodiesel", "bioethanol"]),
            required: true,
            help: "The fuel, as DESNZ names it: burning_oil is kerosene/heating oil, gas_oil is red diesel.",
        }),
        extra: &[],
        examples: [
            &["2026-01-01", "2026-01-31", "612.5", "litres", "VAN-07", "no", "diesel"],
            &["2026-01-14", "2026-01-14", "1000", "litres", "Boiler house", "no", "burning_oil"],
        ],
    },
    Template {
        data_type: "water",
        activity_type: ActivityType::Water,
        summary: "Water supplied (and, if billed, returned to the sewer for treatment).",
        units: &[
            Unit { names: &["m3", "m³", "cubic metres"], stored: "m3", convert: Convert::Factor(1.0) },
            Unit { names: &["litres", "l", "litre", "liters"], stored: "m3", convert: Convert::Factor(0.001) },
            Unit { names: &["ML", "megalitres"], stored: "m3", convert: Convert::Factor(1000.0) },
        ],
        detail: Some(Detail {
            column: "service",
            values: Some(&["supply", "treatment"]),
            required: false,
            help: "supply (default) or treatment (wastewater).",
        }),
        extra: &[],
        examples: [
            &["2026-01-01", "2026-03-31", "185", "m3", "Site A", "no", "supply"],
            &["2026-01-01", "2026-03-31", "176", "m3", "Site A", "no", "treatment"],
        ],
    },
    Template {
        data_type: "heat",
        activity_type: ActivityType::Heat,
        summary: "Heat and steam bought from a district heating network.",
        units: &[KWH, MWH],
        detail: None,
        extra: &[],
        examples: [
            &["2026-01-01", "2026-01-31", "8200", "kWh", "HIU-3", "no"],
            &["2026-02-01", "2026-02-28", "7.1", "MWh", "HIU-3", "yes"],
        ],
    },
    Template {
        data_type: "travel",
        activity_type: ActivityType::Travel,
        summary: "Business travel by distance, per trip or per period.",
        units: &[
            Unit { names: &["km", "kilometres"], stored: "km", convert: Convert::Factor(1.0) },
            Unit { names: &["miles", "mi"], stored: "km", convert: Convert::Factor(1.609_344) },
            Unit { names: &["nights", "room nights"], stored: "nights", convert: Convert::Factor(1.0) },
        ],
        detail: Some(Detail {
            column: "mode",
            values: Some(&["car", "taxi", "bus", "coach", "rail", "underground", "ferry", "flight_domestic", "flight_short_haul", "flight_long_haul", "hotel_uk", "hotel_london"]),
            required: true,
            help: "How the distance was travelled (per passenger), or for hotel stays (unit nights, one room) hotel_uk or hotel_london.",
        }),
        extra: &[],
        examples: [
            &["2026-01-12", "2026-01-12", "412", "miles", "Trip 2026-004", "no", "rail"],
            &["2026-01-20", "2026-01-24", "11020", "km", "Trip 2026-007", "no", "flight_long_haul"],
        ],
    },
    Template {
        data_type: "spend",
        activity_type: ActivityType::Spend,
        summary: "Money spent on goods and services (Scope 3 by spend).",
        units: &[
            Unit { names: &["GBP"], stored: "GBP", convert: Convert::Factor(1.0) },
            Unit { names: &["EUR"], stored: "EUR", convert: Convert::Factor(1.0) },
            Unit { names: &["USD"], stored: "USD", convert: Convert::Factor(1.0) },
        ],
        detail: Some(Detail {
            column: "category",
            values: None,
            required: false,
            help: "Optional: what it was spent on (e.g. a ledger account or a SIC category).",
        }),
        extra: &[],
        examples: [
            &["2026-01-01", "2026-01-31", "1250.00", "GBP", "Supplier 0042", "no", "IT services"],
            &["2026-01-01", "2026-01-31", "310.40", "GBP", "Supplier 0107", "no", "Stationery"],
        ],
    },
    Template {
        data_type: "waste",
        activity_type: ActivityType::Waste,
        summary: "Waste collected, by how it was disposed of.",
        units: &[KG, TONNES_AS_KG],
        detail: Some(Detail {
            column: "disposal",
            values: Some(&["landfill", "recycling", "composting", "anaerobic_digestion", "combustion"]),
            required: true,
            help: "Where it went.",
        }),
        extra: &[],
        examples: [
            &["2026-01-01", "2026-01-31", "1.2", "tonnes", "Site A", "no", "landfill"],
            &["2026-01-01", "2026-01-31", "640", "kg", "Site A", "no", "recycling"],
        ],
    },
    Template {
        data_type: "refrigerants",
        activity_type: ActivityType::Refrigerant,
        summary: "Refrigerant topped up (leaked) in air conditioning and chillers.",
        units: &[KG],
        detail: Some(Detail {
            column: "refrigerant",
            values: None,
            required: true,
            help: "The refrigerant's ASHRAE number, e.g. R-410A, R-32, R-134a.",
        }),
        extra: &[],
        examples: [
            &["2026-03-02", "2026-03-02", "2.5", "kg", "Chiller 1", "no", "R-410A"],
            &["2026-06-17", "2026-06-17", "0.8", "kg", "Office AC", "no", "R-32"],
        ],
    },
    Template {
        data_type: "tokens",
        activity_type: ActivityType::AiTokens,
        summary: "AI model usage in tokens, per model.",
        units: &[
            Unit { names: &["tokens"], stored: "tokens", convert: Convert::Factor(1.0) },
            Unit { names: &["ktokens", "thousand tokens"], stored: "tokens", convert: Convert::Factor(1000.0) },
            Unit { names: &["mtokens", "million tokens"], stored: "tokens", convert: Convert::Factor(1_000_000.0) },
        ],
        detail: Some(Detail {
            column: "model",
            values: None,
            required: true,
            help: "The model, as the provider names it.",
        }),
        extra: &[],
        examples: [
            &["2026-01-01", "2026-01-31", "18250000", "tokens", "Production key", "no", "mistral-large-latest"],
            &["2026-01-01", "2026-01-31", "2.1", "mtokens", "Batch jobs", "no", "command-r"],
        ],
    },
];

impl Template {
    pub fn get(data_type: &str) -> Option<&'static Template> {
        TEMPLATES.iter().find(|t| t.data_type == data_type)
    }

    /// The template's columns, in order.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut cols: Vec<_> = COMMON.iter().map(|(c, _)| *c).collect();
        cols.extend(self.detail.map(|d| d.column));
        cols.extend(self.extra.iter().map(|(c, _)| *c));
        cols
    }

    pub fn unit(&self, name: &str) -> Option<&'static Unit> {
        self.units
            .iter()
            .find(|u| u.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
    }

    /// The downloadable CSV: the header and two example rows.
    pub fn csv(&self) -> String {
        let mut out = self.columns().join(",");
        out.push_str("\r\n");
        for row in self.examples {
            let cells: Vec<String> = row.iter().map(|c| quote(c)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}
