/*
 * main.c — lienthong's entry point: finds the subcommand in the table and
 * runs it. All real work is in the library (src/), so it can be tested
 * without a process.
 */
#include <stdio.h>
#include <string.h>
#include "cmd/cmd.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;
	int own_options;	/* takes only the options in usage, not the settings table */
} commands[] = {
	{ "serve", cmd_serve, "run the FHIR R4 server",
	  "lienthong serve [--data DIR] [--listen HOST:PORT] [--mllp HOST:PORT] [--config FILE] [options]\n"
	  "\n"
	  "Serves FHIR R4 (JSON) at http://HOST:PORT/fhir on the embedded SQLite store in DIR,\n"
	  "and with --mllp takes HL7 v2 messages over MLLP (port 2575 when only a host is given).\n"
	  "When ready it prints one line, 'listening http=HOST:PORT' (+ ' mllp=HOST:PORT'), and\n"
	  "flushes it.\n"
	  "SIGINT or SIGTERM stops it after every accepted write has been answered.\n", 0 },
	{ "import", cmd_import, "bulk-load NDJSON and Bundle files (gzip too) into the store",
	  "lienthong import [--data DIR] [--all-or-nothing] [--batch N] [--threads N]\n"
	  "                 [--bulk|--no-bulk] FILE|DIR...\n"
	  "\n"
	  "Loads every .ndjson / .ndjson.gz file (one resource per line: with an id it is kept,\n"
	  "without one a new id is given) and every .json / .json.gz Bundle (batch or transaction,\n"
	  "as POST /fhir) named or found under the directories, into the store in DIR, with the\n"
	  "validation and indexing of any write. A bad line is reported as FILE:LINE and the rest\n"
	  "still load; the exit status is then 1. --all-or-nothing checks every NDJSON line first\n"
	  "and loads nothing unless all are good. Progress on a terminal; a summary at the end.\n"
	  "Into an empty store the search indexes are built once at the end (bulk-load mode,\n"
	  "decision 0009); --bulk asks for that into any store, --no-bulk never.\n"
	  "Run it with the server stopped, or beside it on the same DIR (SQLite locks).\n", 0 },
	{ "reindex", cmd_reindex, "rebuild the search index (online: a server may keep running)",
	  "lienthong reindex [--data DIR] [--config FILE]\n"
	  "\n"
	  "Recomputes the search index rows of every current resource in DIR from the\n"
	  "search-parameter table of this build, in batches, with progress on stderr.\n"
	  "Needed after an upgrade that changes the table; a running server keeps serving.\n", 0 },
	{ "hl7", cmd_hl7, "HL7 v2: send messages over MLLP, list the message log, replay",
	  "lienthong hl7 send FILE... --to HOST:PORT\n"
	  "lienthong hl7 messages [--data DIR] [--control-id ID] [--sender APP^FACILITY]\n"
	  "          [--patient Patient/ID] [--status AA|AE|AR] [--since T] [--until T] [--limit N] [--raw]\n"
	  "lienthong hl7 replay [--data DIR] (the filters of messages | --all)\n"
	  "\n"
	  "send: every message of the files (one or several a file, batch files too) over MLLP,\n"
	  "one at a time, printing each ACK; exit 1 when any is not accepted.\n"
	  "messages: the messages the server received (newest first): when, ACK code, sender,\n"
	  "MSH-10, patient, resources written; --raw prints the messages too.\n"
	  "replay: processes logged messages again, oldest first (after a mapping fix); writes\n"
	  "are conditional on identifiers, so repeating one changes nothing twice.\n", 0 },
	{ "tenant", cmd_tenant, "facilities hosted by this server (tenants)",
	  "lienthong tenant add --code CODE --name NAME [--data DIR]\n"
	  "lienthong tenant list [--data DIR]\n"
	  "\n"
	  "A tenant is a facility, keyed by its facility code (e.g. 79001). Each resource,\n"
	  "history row, message and audit record belongs to one; no request sees another's.\n"
	  "The first tenant added owns the data of a store that had none (tenant 1).\n", 0 },
	{ "user", cmd_user, "people who sign in: clinicians, staff, administrators, patients",
	  "lienthong user add NAME --tenant CODE --role ROLES [--scope S] [--patient Patient/ID]\n"
	  "                   --password-stdin\n"
	  "lienthong user passwd NAME --password-stdin | totp NAME | disable NAME | enable NAME\n"
	  "lienthong user list [--tenant CODE]\n"
	  "\n"
	  "ROLES: admin, clinician, staff, warehouse, patient (comma- or space-separated).\n"
	  "Passwords: 14 characters or more, letters and digits, stored as argon2id.\n"
	  "Administrators get a TOTP secret (shown once) and need a code to sign in.\n"
	  "enable also ends a lockout. Unused for 45 days, a user is refused until enabled.\n", 0 },
	{ "client", cmd_client, "systems that call the API: LIS, other servers, scripts",
	  "lienthong client add ID --tenant CODE [--scope SCOPES] [--role ROLES]\n"
	  "lienthong client secret ID | disable ID | enable ID | list [--tenant CODE]\n"
	  "lienthong client jwks ID FILE\n"
	  "\n"
	  "add and secret print a new client secret once. SCOPES are SMART v2 (default\n"
	  "system/*.rs); a client gets tokens at POST /auth/token (client_credentials).\n"
	  "jwks registers the client's public keys (a JWKS file: ES384, RS384, ES256 or\n"
	  "EdDSA): it then signs a JWT assertion instead of sending a secret (SMART\n"
	  "Backend Services, private_key_jwt), and its secret stops working.\n", 0 },
	{ "token", cmd_token, "print a bearer token (for scripts and tests)",
	  "lienthong token (--client ID | --user NAME) [--scope SCOPES] [--patient ID] [--data DIR]\n"
	  "\n"
	  "Signs an access token with the server's key, as /auth/token would, for an account\n"
	  "of the directory (no secret needed: whoever can read DIR holds the keys anyway).\n", 0 },
	{ "key", cmd_key, "the token-signing keys",
	  "lienthong key rotate [--alg ES256|EdDSA] [--data DIR]\n"
	  "lienthong key list [--data DIR]\n"
	  "\n"
	  "rotate adds a key that signs from the next start on; older keys still verify the\n"
	  "tokens they signed until their files (DIR/keys/signing/KID.pem) are removed.\n", 0 },
	{ "gen", cmd_gen, "write a synthetic Ho Chi Minh City (test data) to a directory",
	  "lienthong gen --patients N --seed S --out DIR [--format ndjson|bundle|hl7v2]\n"
	  "              [--defects RATE]\n"
	  "\n"
	  "Writes the city's facilities (164 hospitals, 38 regional health centres, 168\n"
	  "commune health stations, 200 clinics: Organization + Location) and N people with\n"
	  "their care (Patient, Encounter, Condition, Observation, MedicationRequest,\n"
	  "Immunization, AllergyIntolerance) to DIR: one NDJSON file per type\n"
	  "(Patient.ndjson, ...); with --format bundle one transaction Bundle (PUT) per\n"
	  "patient plus facilities.json; with --format hl7v2 adt.hl7 (ADT^A04 per patient)\n"
	  "and oru.hl7 (ORU^R01 per encounter with lab results) for `lienthong hl7 send`.\n"
	  "--defects RATE (0 to 1) puts that share of real feeds' defects in the resources\n"
	  "(malformed CCCD, duplicates, local codes, impossible values, stale records) and\n"
	  "lists each in DIR/defects.jsonl (not with hl7v2). The same seed gives the same\n"
	  "bytes; N is at most 1,000,000. Load it with `lienthong import --data D DIR`.\n"
	  "Progress on a terminal. What is generated and where the numbers come from:\n"
	  "docs/synthetic-data.md.\n", 1 },
	{ "audit", cmd_audit, "the audit trail: verify its hash chain, list who accessed what",
	  "lienthong audit verify [--data DIR]\n"
	  "lienthong audit list [--data DIR] [--patient Patient/ID] [--agent A] [--tenant N]\n"
	  "          [--since T] [--until T] [--break-glass] [--limit N]\n"
	  "\n"
	  "verify: walks the whole trail and checks every record against the hash chain and its\n"
	  "head (decision 0016); prints 'audit trail: N records, intact' and exits 0, or one line\n"
	  "per problem, 'audit record SEQ: altered|deleted|reordered|truncated ...', and exits 1.\n"
	  "Needs the key DATA/keys/audit.key.\n"
	  "list: the records, newest first (100 unless --limit): seq, time (UTC), agent,\n"
	  "action/subtype, entity, patient, source, HTTP status, purpose of use, flags.\n", 0 },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int usage(FILE *out)
{
	fprintf(out, "usage: lienthong [--version] [--help] <command> [<args>]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  %-10s %s\n", "help", "show help for a command: lienthong help serve");
	return 0;
}

static int help(const char *name)
{
	const struct command *c = find_command(name);

	if (!c) {
		fprintf(stderr, "lienthong: no command '%s'\n", name);
		usage(stderr);
		return 2;
	}
	printf("usage: %s\n", c->usage);
	if (!c->own_options)
		config_usage(c->name);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("lienthong %s (FHIR R4 4.0.1)\n", LT_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return usage(stdout);
	if (!strcmp(argv[1], "help"))
		return argc > 2 ? help(argv[2]) : usage(stdout);
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "lienthong: '%s' is not a command or option\n", argv[1]);
		usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return help(c->name);
	return c->run(argc - 1, argv + 1);
}
