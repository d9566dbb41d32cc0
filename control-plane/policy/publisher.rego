# enclet example policy: trust plugins by publisher, not by hash.
#
# A plugin is allowed iff its LATEST load in the attested event log
# (input.plugin_events) is a `signed_load` whose publisher key fingerprint
# (SHA-256 of the publisher's SPKI, lowercase hex, as `enclet plugin inspect`
# prints it) is listed in data.trusted_publishers. The latest load matters:
# the same bytes may have been loaded signed earlier, unloaded, and loaded
# again without a manifest (only an enclave without --publisher-key allows
# that); that plugin is not "signed by P" now. It then receives
# data.publisher_secrets[<fingerprint>] and the log capability.
#
# The enclave verdict is the default policy's.
package enclet

trusted_basis := {"activated_ak", "aws_nitro_root"}

all_checked if {
	input.checked.nonce == true
	input.checked.pcrs == true
	input.checked.event_log == true
}

enclave_verdict := {"allow": false, "rule": "untrusted_basis"} if {
	not input.trust_basis.kind in trusted_basis
} else := {"allow": false, "rule": "unchecked_evidence"} if {
	not all_checked
} else := {"allow": false, "rule": "debug_enclave"} if {
	input.debug != false
} else := {"allow": true, "rule": "trusted_enclave"}

# The plugin's latest load or signed_load event.
latest_load(m) := input.plugin_events[i] if {
	loads := [j | some j, e in input.plugin_events; e.measurement == m; e.event in {"load", "signed_load"}]
	i := max(loads)
}

# The fingerprint of the trusted publisher that signed m's latest load.
trusted_signer(m) := key if {
	e := latest_load(m)
	e.event == "signed_load"
	key := e.publisher_key
	key in {k | some k in data.trusted_publishers}
}

plugin_verdicts[m] := verdict if {
	some m in input.plugins.measurements
	key := trusted_signer(m)
	verdict := {
		"allow": true,
		"rule": "signed_by_trusted_publisher",
		"secrets": object.get(object.get(data, "publisher_secrets", {}), key, []),
		"capabilities": ["log"],
	}
}

plugin_verdicts[m] := {"allow": false, "rule": "not_signed_by_trusted_publisher", "secrets": []} if {
	some m in input.plugins.measurements
	not trusted_signer(m)
}

decision := {"enclave": enclave_verdict, "plugins": plugin_verdicts}
