import { describe, expect, it } from 'vitest';
import { quotedNames } from '../../src/core/sql-split.js';
import { copyField, missingRewrites, rewriteDumpText, type DumpRewritePlan } from '../../src/steps/schema-tree-rewrite.js';

const DUMP = `SET search_path = '';

--
-- Name: m; Type: TABLE; Schema: app; Owner: -
--

CREATE TABLE "app"."m" (
    "t" "app"."moment" NOT NULL,
    "note" "text" DEFAULT 'PARTITION BY x'::"text"
)
PARTITION BY RANGE ("t");


--
-- Name: m_2024; Type: TABLE; Schema: app; Owner: -
--

CREATE TABLE "app"."m_2024" (
    "t" "app"."moment" NOT NULL
);
ALTER TABLE "app"."m_2024" OWNER TO "bob";

--
-- Name: m_2024; Type: TABLE ATTACH; Schema: app; Owner: -
--

ALTER TABLE ONLY "app"."m" ATTACH PARTITION "app"."m_2024" FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

--
-- Name: v; Type: VIEW; Schema: app; Owner: -
--

CREATE VIEW "app"."v" AS SELECT "m_2024"."t" FROM "app"."m_2024";

--
-- Data for Name: part_config; Type: TABLE DATA; Schema: partman; Owner: -
--

COPY "partman"."part_config" ("parent_table", "control") FROM stdin;
app.m\tt
app.other\tts
--
\\.

--
-- Name: m_idx; Type: INDEX; Schema: app; Owner: -
--

CREATE INDEX "m_idx" ON ONLY "app"."m" USING "btree" ("t");

--
-- Name: m_2024_t_idx; Type: INDEX ATTACH; Schema: app; Owner: -
--

ALTER INDEX "app"."m_idx" ATTACH PARTITION "app"."m_2024_t_idx";

--
-- Name: m route; Type: TRIGGER; Schema: app; Owner: -
--

CREATE TRIGGER "route" BEFORE INSERT ON "app"."m" FOR EACH ROW EXECUTE FUNCTION "app"."f"();
`;

const PLAN: DumpRewritePlan = {
  trees: [{ table: { schema: 'app', table: 'm' }, partitioned: true, routingTriggers: ['route'],
    dropped: [{ schema: 'app', table: 'm_2024' }, { schema: 'app', table: 'm_2024_t_idx' }] }],
  retypes: [{ table: { schema: 'app', table: 'm' }, column: 't', domain: { schema: 'app', table: 'moment' },
    baseType: 'timestamp with time zone', notNull: true }],
  partmanTables: [{ table: { schema: 'partman', table: 'part_config' }, column: 'parent_table' }],
  partmanKeys: ['app.m', 'app.m_2024'],
};

describe('tree dump rewrite', () => {
  it('makes the parent plain, drops the partition\'s statements and the routing trigger, keeps the rest byte for byte', () => {
    const { text, counts } = rewriteDumpText(DUMP, PLAN);
    expect(text).toContain('CREATE TABLE "app"."m" (\n    "t" timestamp with time zone NOT NULL,\n' +
      '    "note" "text" DEFAULT \'PARTITION BY x\'::"text"\n);');
    expect(text).not.toContain('-- Name: m_2024; Type: TABLE;');
    expect(text).not.toContain('ATTACH PARTITION');
    expect(text).not.toContain('CREATE TRIGGER');
    expect(text).toContain('CREATE VIEW "app"."v" AS SELECT "m_2024"."t" FROM "app"."m_2024";');
    expect(text).toContain('CREATE INDEX "m_idx" ON ONLY "app"."m"');
    expect(text).toContain('COPY "partman"."part_config" ("parent_table", "control") FROM stdin;\napp.other\tts\n--\n\\.\n');
    expect(counts.statementsLeftOut).toEqual([5]);
    expect(counts.partmanRowsLeftOut).toBe(1);
    expect(missingRewrites(PLAN, counts)).toEqual([]);
    // Without a plan entry nothing changes at all.
    expect(rewriteDumpText(DUMP, { trees: [], retypes: [], partmanTables: [], partmanKeys: [] }).text).toBe(DUMP);
  });

  it('says what the dump did not have', () => {
    const { counts } = rewriteDumpText('SET x = 1;\n', PLAN);
    expect(missingRewrites(PLAN, counts)).toEqual(['no CREATE TABLE … PARTITION BY for app.m',
      'the column "t" of app.m was not found typed app.moment']);
  });

  it('reads quoted name chains and COPY fields', () => {
    expect(quotedNames(`COMMENT ON COLUMN "a"."b""c"."d" IS '"x"."y"'; -- "z"."w"`)).toEqual([['a', 'b"c', 'd']]);
    expect(quotedNames('CREATE INDEX "i" ON ONLY "s"."t" USING "btree" ("c")')).toEqual([['i'], ['s', 't'], ['btree'], ['c']]);
    expect(copyField('a\\tb\\\\c\\n')).toBe('a\tb\\c\n');
    expect(copyField('\\N')).toBeUndefined();
  });
});
