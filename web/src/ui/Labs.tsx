// Guided labs: goals, then steps; each step asks for a prediction, runs the step's machine, and
// when the guest has ended checks what it actually did (its output and the counters) and explains.

import { useMemo, useState } from "preact/hooks";
import { loadCatalogue } from "../labs/catalogue.js";
import { type CheckResult, checkStep, type StepRun } from "../labs/check.js";
import type { Lab, Step } from "../labs/format.js";
import type { LabSession } from "../labs/session.js";
import { useUi } from "./context.js";

interface Props {
  session: LabSession;
  onRun(m: Step["machine"]): void;
}

function StepView(p: {
  lab: Lab;
  step: Step;
  n: number;
  runs: Record<string, StepRun>;
  running: boolean;
  choice: string | undefined;
  onChoose(choice: string): void;
  onRun(): void;
}) {
  const { t, lang } = useUi();
  const choice = p.choice;
  const { step } = p;
  const run = p.runs[step.id];
  const results: CheckResult[] | undefined = run ? checkStep(step, run, p.runs) : undefined;
  const allPass = results?.every((r) => r.pass);
  const name = `predict-${p.lab.id}-${step.id}`;
  return (
    <section class="lab-step" aria-labelledby={`${name}-title`} data-step={step.id}>
      <h4 id={`${name}-title`}>{t("labs.step", { n: p.n, title: step.title[lang] })}</h4>
      <p>{step.instructions[lang]}</p>
      <fieldset class="predict">
        <legend>
          {t("labs.predict")}: {step.predict.question[lang]}
        </legend>
        {step.predict.choices.map((c) => (
          <label key={c.id}>
            <input type="radio" name={name} value={c.id} checked={choice === c.id} onChange={() => p.onChoose(c.id)} />
            {c.text[lang]}
          </label>
        ))}
      </fieldset>
      <button type="button" class="primary run-step" onClick={p.onRun} disabled={p.running}>
        {t("labs.run")}
      </button>
      {p.running && <p role="status">{t(step.migrate ? "labs.runningMigrate" : "labs.running")}</p>}
      {results && (
        <section class="results" aria-label={t("labs.check")}>
          <h5>{t("labs.check")}</h5>
          <ul>
            {results.map((r, i) => (
              <li key={i} class={r.pass ? "pass" : "fail"} data-pass={r.pass}>
                <strong>{r.pass ? t("labs.pass") : t("labs.fail")}</strong> {r.check.label[lang]}
                {r.observed !== undefined && <span class="muted"> · {t("labs.observed", { value: r.observed })}</span>}
              </li>
            ))}
          </ul>
          {allPass && <p class="pass">{t("labs.allPassed")}</p>}
          <p>
            {choice === undefined
              ? t("labs.noPrediction")
              : choice === step.predict.answer
                ? t("labs.predictionRight")
                : t("labs.predictionWrong")}
          </p>
          <h5>{t("labs.explanation")}</h5>
          <p>{step.explanation[lang]}</p>
        </section>
      )}
      {!results && !p.running && <p class="muted">{t("labs.needsRun")}</p>}
    </section>
  );
}

export function Labs({ session, onRun }: Props) {
  const { t, lang } = useUi();
  const catalogue = useMemo(() => loadCatalogue(), []);
  const [, setTick] = useState(0);
  const refresh = () => setTick((x) => x + 1);
  const labId = session.labId ?? catalogue.labs[0]?.id;
  const lab = catalogue.labs.find((l) => l.id === labId);
  const pending = session.pending;

  return (
    <section aria-labelledby="labs-title" class="labs">
      <h3 id="labs-title">{t("labs.title")}</h3>
      {catalogue.errors.length > 0 && (
        <div role="alert" class="error">
          {catalogue.errors.map((e) => (
            <p key={e}>{e}</p>
          ))}
        </div>
      )}
      <label>
        {t("labs.choose")}
        <select
          id="lab"
          value={labId}
          onChange={(e) => {
            session.labId = e.currentTarget.value;
            refresh();
          }}
        >
          {catalogue.labs.map((l) => (
            <option value={l.id}>{l.title[lang]}</option>
          ))}
        </select>
      </label>
      {session.error && (
        <p role="alert" class="error" id="labs-error">
          {t("status.error", { message: t("labs.migrateError", { message: session.error }) })}
        </p>
      )}
      {lab && (
        <article data-lab={lab.id}>
          <h3>{lab.title[lang]}</h3>
          <p>{lab.summary[lang]}</p>
          <h4>{t("labs.goals")}</h4>
          <ul>
            {lab.goals.map((g) => (
              <li key={g.en}>{g[lang]}</li>
            ))}
          </ul>
          {lab.steps.map((step, i) => (
            <StepView
              key={`${lab.id}-${step.id}`}
              lab={lab}
              step={step}
              n={i + 1}
              runs={session.runs[lab.id] ?? {}}
              running={pending?.lab === lab.id && pending.step === step.id}
              choice={session.predictions[lab.id]?.[step.id]}
              onChoose={(c) => {
                session.predict(lab.id, step.id, c);
                refresh();
              }}
              onRun={() => {
                onRun(step.machine);
                session.started(lab.id, step.id, step.migrate);
                refresh();
              }}
            />
          ))}
          <h4>{t("labs.sources")}</h4>
          <ul class="sources">
            {lab.sources.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
        </article>
      )}
    </section>
  );
}
