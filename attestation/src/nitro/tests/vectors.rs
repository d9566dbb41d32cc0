//! The 12 real AWS documents, with the facts their provenance notes give:
//! own timestamp (seconds), debug mode, PCR0.

pub(crate) struct Vector {
    pub(crate) name: &'static str,
    pub(crate) bytes: &'static [u8],
    pub(crate) at: u64,
    pub(crate) debug: bool,
    pub(crate) pcr0: &'static str,
}

macro_rules! vector {
    ($file:literal, $at:expr, $debug:expr, $pcr0:literal) => {
        Vector {
            name: $file,
            bytes: include_bytes!(concat!("../../../testdata/nitro/", $file)),
            at: $at,
            debug: $debug,
            pcr0: $pcr0,
        }
    };
}

pub(crate) const Z: &str = "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

pub(crate) const VECTORS: [Vector; 12] = [
    vector!(
        "01_anjuna_2021-03-17_prod.cose",
        1_616_018_515,
        false,
        "2d151586641b790f3b1b92b8f89678c3aa86e73dd97969c892124be9d2b7fdc62b58a55cd9ee8216f6f5689cebf590ad"
    ),
    vector!(
        "02_anjuna_2021-03-24_prod_pubkey.cose",
        1_616_602_241,
        false,
        "672cd3c91b7ac756037d260051169c70b1de59c7a3a9a8253322c98763697891c722fec043cbf72a824ae5d5ac41fc41"
    ),
    vector!(
        "03_evervault_2022-10-12_debug.cose",
        1_665_582_606,
        true,
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    ),
    vector!(
        "04_evervault_2022-10-13_prod.cose",
        1_665_651_482,
        false,
        "f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b"
    ),
    vector!(
        "05_evervault_2023-01-18_prod_from_cert_san.cose",
        1_674_047_239,
        false,
        "d265a83faa7b4fa0d73b82b6d06253e894445922937d0ee5a74fe4891da9817611a71e71b98e5329232902de3cf419af"
    ),
    vector!(
        "06_evervault_2023-01-18_debug_from_cert_san.cose",
        1_674_054_632,
        true,
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    ),
    vector!(
        "07_evervault_2023-09-18_debug.cose",
        1_695_049_410,
        true,
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    ),
    vector!(
        "08_anjuna_2023-09-21_prod.cose",
        1_695_337_797,
        false,
        "0f0b6b3e05d75450ab3cc91e6e105d2ffcb43edb4a4b7eccd63c9d2cf6e38c864ff6cfe0b8209f8b37059e8cc73469a0"
    ),
    vector!(
        "09_anjuna_2024-01-24_debug_all_optional_fields.cose",
        1_706_120_065,
        true,
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    ),
    vector!(
        "10_base_2024-11-25_prod_rebuilt_from_sigstructure.cose",
        1_732_575_521,
        false,
        "ec74bfbe7f7445a6c7610e152935e028276f638042b74797b119648e13f7a3675796b721034c320f140ea001b41aeae2"
    ),
    vector!(
        "11_base_2024-11-30_prod.cose",
        1_732_983_768,
        false,
        "ec74bfbe7f7445a6c7610e152935e028276f638042b74797b119648e13f7a3675796b721034c320f140ea001b41aeae2"
    ),
    vector!(
        "12_base_2026-01-03_prod_indefinite_map.cose",
        1_767_472_867,
        false,
        "4b8d4cf2a99e05ce1b5bddaf9d21cb446eb0e606c5bebd1ebf02b473a22165f7b68b0bb0d1ac5a90f0311e493522cfab"
    ),
];
