// The Runbook Planner's state: the form, the last plan, and a run streaming in.
import { useCallback, useRef, useState } from 'react';
import { ApiError, executeRoute, planRoute } from './api';
import { fromDenial, fromPlan, type ExplainView } from './explain';
import type { ApiErrorBody, ExecuteSummary, ExplainMode, PlanResponse, Risk, RouteRequest } from './types';

export interface PlannerForm {
  task: string;
  loa: number;
  risk: Risk;
  input: string;
  stream: boolean;
}

export const DEFAULT_FORM: PlannerForm = {
  task: 'qa',
  loa: 1,
  risk: 'low',
  input: 'Say hello to the operators in one sentence.',
  stream: true,
};

export type PlannerBusy = 'plan' | 'trace' | 'execute' | null;

export interface PlannerFailure {
  action: 'plan' | 'execute';
  status: number;
  body: ApiErrorBody;
}

export interface Planner {
  form: PlannerForm;
  setForm: (form: PlannerForm) => void;
  busy: PlannerBusy;
  lastPlan: PlanResponse | null;
  /** The explain mode the last plan was asked with. */
  lastMode: ExplainMode | undefined;
  output: string;
  summary: ExecuteSummary | null;
  failure: PlannerFailure | null;
  /** Plan the form (or, with `full`, re-plan the last planned request); the view to explain. */
  plan: (explain?: ExplainMode) => Promise<ExplainView | null>;
  /** Run the form; resolves with a view to explain when the run was denied. */
  execute: () => Promise<ExplainView | null>;
  cancel: () => void;
}

function toRequest(form: PlannerForm): RouteRequest {
  const request: RouteRequest = { task: form.task.trim(), loa: form.loa, risk: form.risk, stream: form.stream };
  if (form.input.trim()) request.input = form.input;
  return request;
}

function failureOf(action: PlannerFailure['action'], exc: unknown): PlannerFailure {
  if (exc instanceof ApiError) return { action, status: exc.status, body: exc.body };
  if (exc instanceof DOMException && exc.name === 'AbortError') {
    return { action, status: 0, body: { error: 'cancelled', message: 'the run was cancelled from the dashboard' } };
  }
  return { action, status: 0, body: { error: 'client_error', message: String(exc) } };
}

/** Form state plus plan/execute against the proxy. */
export function usePlanner(): Planner {
  const [form, setForm] = useState<PlannerForm>(DEFAULT_FORM);
  const [busy, setBusy] = useState<PlannerBusy>(null);
  const [lastPlan, setLastPlan] = useState<PlanResponse | null>(null);
  const [lastMode, setLastMode] = useState<ExplainMode | undefined>(undefined);
  const [output, setOutput] = useState('');
  const [summary, setSummary] = useState<ExecuteSummary | null>(null);
  const [failure, setFailure] = useState<PlannerFailure | null>(null);
  const lastRequest = useRef<RouteRequest | null>(null);
  const running = useRef<AbortController | null>(null);
  const formRef = useRef(form);
  formRef.current = form;

  const plan = useCallback(async (explain?: ExplainMode): Promise<ExplainView | null> => {
    const request = explain === 'full' && lastRequest.current ? lastRequest.current : toRequest(formRef.current);
    lastRequest.current = request;
    setBusy(explain === 'full' ? 'trace' : 'plan');
    setFailure(null);
    try {
      const answer = await planRoute(request, explain);
      setLastPlan(answer);
      setLastMode(explain);
      return fromPlan(answer, explain);
    } catch (exc) {
      setFailure(failureOf('plan', exc));
      return null;
    } finally {
      setBusy(null);
    }
  }, []);

  const execute = useCallback(async (): Promise<ExplainView | null> => {
    if (running.current) return null;
    const controller = new AbortController();
    running.current = controller;
    const request = toRequest(formRef.current);
    setBusy('execute');
    setFailure(null);
    setSummary(null);
    setOutput('');
    try {
      const result = await executeRoute(
        request,
        { onChunk: (text) => setOutput((previous) => previous + text) },
        controller.signal,
      );
      setSummary(result);
      // A non-streamed answer arrives whole: show it in the same pane.
      setOutput((previous) => previous || result.output.text);
      return null;
    } catch (exc) {
      const failed = failureOf('execute', exc);
      setFailure(failed);
      return fromDenial(failed.body);
    } finally {
      running.current = null;
      setBusy(null);
    }
  }, []);

  const cancel = useCallback(() => running.current?.abort(), []);

  return { form, setForm, busy, lastPlan, lastMode, output, summary, failure, plan, execute, cancel };
}
