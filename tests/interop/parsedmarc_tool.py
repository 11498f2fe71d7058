#!/usr/bin/env python3
"""Parses DMARC aggregate reports with parsedmarc (a second implementation) and prints
what monban's tests compare, one JSON object per file:
{"file", "report_id", "org_name", "domain", "begin", "end", "messages",
 "records": [{"ip", "count", "disposition", "dkim", "spf", "header_from",
              "envelope_from", "dkim_results": [[domain, selector, result]],
              "spf_results": [[domain, scope, result]], "reasons": [type]}]}
Offline: no DNS or geolocation lookups."""
import json
import sys

import parsedmarc


def main():
    for path in sys.argv[1:]:
        parsed = parsedmarc.parse_report_file(path, offline=True)
        if parsed["report_type"] != "aggregate":
            raise SystemExit(f"{path}: not an aggregate report: {parsed['report_type']}")
        rep = parsed["report"]
        meta = rep["report_metadata"]
        records = []
        for r in rep["records"]:
            pe = r["policy_evaluated"]
            ar = r["auth_results"]
            records.append({
                "ip": r["source"]["ip_address"],
                "count": r["count"],
                "disposition": pe["disposition"],
                "dkim": pe["dkim"],
                "spf": pe["spf"],
                "header_from": r["identifiers"]["header_from"],
                "envelope_from": r["identifiers"]["envelope_from"],
                "dkim_results": [[d["domain"], d["selector"], d["result"]] for d in ar["dkim"]],
                "spf_results": [[s["domain"], s["scope"], s["result"]] for s in ar["spf"]],
                "reasons": [x["type"] for x in pe["policy_override_reasons"]],
            })
        print(json.dumps({
            "file": path,
            "report_id": meta["report_id"],
            "org_name": meta["org_name"],
            "domain": rep["policy_published"]["domain"],
            "begin": meta["begin_date"],
            "end": meta["end_date"],
            "messages": sum(r["count"] for r in records),
            "records": records,
        }))


if __name__ == "__main__":
    main()
