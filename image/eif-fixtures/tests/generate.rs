//! Writes `image/testdata/eif/*.eif` with the AWS EIF library and records
//! its PCRs in `expected.json`. Ignored: run it on purpose (see the crate docs).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use aws_nitro_enclaves_image_format::defs::{EifBuildInfo, EifIdentityInfo};
use aws_nitro_enclaves_image_format::utils::eif_reader::EifReader;
use aws_nitro_enclaves_image_format::utils::eif_signer::SignKeyData;
use aws_nitro_enclaves_image_format::utils::EifBuilder;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::{X509Builder, X509NameBuilder};
use sha2::{Digest, Sha384};

/// Synthetic inputs: not bootable, just distinct bytes of plausible size.
struct Inputs {
    kernel: Vec<u8>,
    cmdline: String,
    ramdisks: Vec<Vec<u8>>,
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn base() -> Inputs {
    Inputs {
        kernel: pattern(600, 1),
        cmdline: "reboot=k panic=30 pci=off nomodules console=ttyS0 init=/init".to_owned(),
        ramdisks: vec![pattern(400, 2), pattern(300, 3)],
    }
}

fn identity() -> EifIdentityInfo {
    EifIdentityInfo {
        img_name: "enclet-test".to_owned(),
        img_version: "0.0.0".to_owned(),
        build_info: EifBuildInfo {
            build_time: "1970-01-01T00:00:00Z".to_owned(),
            build_tool: "enclet-eif-fixtures".to_owned(),
            build_tool_version: "0.0.0".to_owned(),
            img_os: "linux".to_owned(),
            img_kernel: "synthetic".to_owned(),
        },
        docker_info: serde_json::json!({}),
        custom_info: serde_json::json!({}),
    }
}

/// A throwaway P-384 signing key (PEM, kept only in `dir`) and its
/// self-signed certificate (PEM).
fn signer(dir: &Path) -> (PathBuf, Vec<u8>) {
    let group = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "enclet test EIF signer").unwrap();
    let name = name.build();
    let mut cert = X509Builder::new().unwrap();
    cert.set_version(2).unwrap();
    let serial = BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap();
    cert.set_serial_number(&serial).unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(3650).unwrap()).unwrap();
    cert.sign(&key, MessageDigest::sha384()).unwrap();
    let key_path = dir.join("signing-key.pem");
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (key_path, cert.build().to_pem().unwrap())
}

/// Builds one EIF with the AWS library; returns the PCRs it computed while
/// building, after checking that reading the file back gives the same and
/// that its CRC is right.
fn write_eif(
    out: &Path,
    scratch: &Path,
    inputs: &Inputs,
    sign: Option<(&Path, &Path)>,
) -> BTreeMap<String, String> {
    let kernel = scratch.join("kernel");
    std::fs::write(&kernel, &inputs.kernel).unwrap();
    let sign_info = sign.map(|(key, cert)| SignKeyData::new(key.to_str().unwrap(), cert).unwrap());
    let mut builder = EifBuilder::new(
        &kernel,
        inputs.cmdline.clone(),
        sign_info,
        Sha384::new(),
        0,
        identity(),
    );
    for (i, ramdisk) in inputs.ramdisks.iter().enumerate() {
        let path = scratch.join(format!("ramdisk{i}"));
        std::fs::write(&path, ramdisk).unwrap();
        builder.add_ramdisk(&path);
    }
    let mut file = File::create(out).unwrap();
    let mut built = builder.write_to(&mut file);
    drop(file);
    built.remove("HashAlgorithm");

    let mut reader = EifReader::from_eif(out.display().to_string()).unwrap();
    assert!(reader.check_crc(), "{}: CRC", out.display());
    let mut read = reader.get_measurements().unwrap();
    read.remove("HashAlgorithm");
    assert_eq!(built, read, "{}: build and describe disagree", out.display());
    built
}

#[test]
#[ignore = "writes image/testdata/eif; run on purpose"]
fn generate() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/eif");
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut expected = BTreeMap::new();
    let mut add = |name: &str, inputs: &Inputs, sign: Option<(&Path, &Path)>| {
        let pcrs = write_eif(&dir.join(name), scratch.path(), inputs, sign);
        expected.insert(name.to_owned(), pcrs);
    };

    add("base.eif", &base(), None);
    // One byte changed in each input (flipping the low bit keeps the cmdline
    // free of NUL bytes).
    let mut i = base();
    i.kernel[100] ^= 0x01;
    add("kernel-changed.eif", &i, None);
    let mut i = base();
    let mut cmdline = i.cmdline.into_bytes();
    cmdline[5] ^= 0x01;
    i.cmdline = String::from_utf8(cmdline).unwrap();
    add("cmdline-changed.eif", &i, None);
    let mut i = base();
    i.ramdisks[0][10] ^= 0x01;
    add("ramdisk1-changed.eif", &i, None);
    let mut i = base();
    i.ramdisks[1][10] ^= 0x01;
    add("ramdisk2-changed.eif", &i, None);
    let mut i = base();
    i.ramdisks.truncate(1);
    add("single-ramdisk.eif", &i, None);

    let (key, cert_pem) = signer(scratch.path());
    let cert = dir.join("signing-cert.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    add("signed.eif", &base(), Some((&key, &cert)));

    let json = serde_json::to_string_pretty(&expected).unwrap();
    std::fs::write(dir.join("expected.json"), json + "\n").unwrap();
}
