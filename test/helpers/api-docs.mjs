// The documentation audit behind test/api-docs.test.mjs: TypeDoc converts lib/index.ts with
// typedoc.json, and this walks what the reference shows. Run directly
// (`node test/helpers/api-docs.mjs`) it prints what is undocumented, one line each.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application, DeclarationReflection, ReflectionKind, ReflectionType, TSConfigReader, TypeDocReader } from 'typedoc';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const REQUIRED = ReflectionKind.Class | ReflectionKind.Interface | ReflectionKind.Function | ReflectionKind.TypeAlias
  | ReflectionKind.Variable | ReflectionKind.Method | ReflectionKind.Property | ReflectionKind.Accessor
  | ReflectionKind.Enum | ReflectionKind.EnumMember;

function ancestors(r) {
  const out = [];
  for (let p = r.parent; p; p = p.parent) out.push(p);
  return out;
}

function documented(r) {
  if (r.hasComment()) return true;
  const sigs = [...(r.signatures ?? []), r.getSignature, r.setSignature].filter(Boolean);
  if (r.type instanceof ReflectionType) sigs.push(...(r.type.declaration.signatures ?? []));
  return sigs.some((s) => s.hasComment());
}

function hasDefault(r) {
  return (r.comment?.blockTags ?? []).some((t) => t.tag === '@default' || t.tag === '@defaultValue');
}

/** What the reference would show undocumented: `missing doc NAME` and `missing @default NAME` lines. */
export async function audit() {
  const app = await Application.bootstrapWithPlugins(
    { options: path.join(root, 'typedoc.json'), logLevel: 'Error', validation: false, treatValidationWarningsAsErrors: false },
    [new TypeDocReader(), new TSConfigReader()],
  );
  const project = await app.convert();
  if (!project) throw new Error('TypeDoc could not convert lib/index.ts (see its errors above)');
  const problems = new Set();
  let checked = 0;
  for (const r of project.getReflectionsByKind(REQUIRED)) {
    if (!(r instanceof DeclarationReflection) || r.inheritedFrom || r.flags.isExternal) continue;
    const up = ancestors(r);
    // A parameter's inline object type is documented by the function's @param, as TypeDoc has it.
    if (up.some((p) => p.kindOf(ReflectionKind.Parameter))) continue;
    checked++;
    const name = r.getFriendlyFullName();
    if (!documented(r)) problems.add(`missing doc ${name}`);
    const owner = up.find((p) => p.kindOf(ReflectionKind.Interface | ReflectionKind.TypeAlias));
    if (r.kindOf(ReflectionKind.Property) && r.flags.isOptional && owner && /Options$/.test(owner.name) && !hasDefault(r)) {
      problems.add(`missing @default ${name}`);
    }
  }
  return { problems, checked };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { problems, checked } = await audit();
  for (const p of [...problems].sort()) console.log(p);
  console.error(`${problems.size} problems in ${checked} checked items`);
}
