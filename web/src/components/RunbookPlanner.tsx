import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import FormControlLabel from '@mui/material/FormControlLabel';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import type { PlannerBusy, PlannerForm } from '../usePlanner';
import type { PlanResponse, Risk } from '../types';

const LOAS = [0, 1, 2, 3] as const;
const RISKS: Risk[] = ['low', 'medium', 'high'];

interface RunbookPlannerProps {
  form: PlannerForm;
  onChange: (form: PlannerForm) => void;
  busy: PlannerBusy;
  lastPlan: PlanResponse | null;
  onPlan: () => void;
  onExecute: () => void;
  onCancel: () => void;
  onExplain: () => void;
}

function PlanSummary({ plan, onExplain }: { plan: PlanResponse; onExplain: () => void }) {
  const { decision } = plan;
  return (
    <Box aria-label="Last plan" role="group" data-decision-id={plan.decision_id}>
      <Stack direction="row" sx={{ alignItems: 'center', gap: 1, flexWrap: 'wrap' }}>
        <Chip size="small" label={decision.allow ? '✔ allowed' : '✖ denied'} color={decision.allow ? 'success' : 'error'} />
        <Typography variant="body2">
          {decision.allow ? (
            <>
              <b>{decision.model}</b> by rule <b>{decision.rule}</b>
            </>
          ) : (
            <>
              denied: <b>{decision.denial}</b>
            </>
          )}
        </Typography>
        <Button size="small" onClick={onExplain}>
          Explain
        </Button>
      </Stack>
    </Box>
  );
}

/** Task, LoA, risk, input and stream; Plan asks the policy, Execute runs it. */
export function RunbookPlanner({
  form,
  onChange,
  busy,
  lastPlan,
  onPlan,
  onExecute,
  onCancel,
  onExplain,
}: RunbookPlannerProps) {
  const set = <K extends keyof PlannerForm>(key: K, value: PlannerForm[K]): void => onChange({ ...form, [key]: value });
  return (
    <Box
      component="form"
      aria-label="Runbook planner"
      onSubmit={(event) => {
        event.preventDefault();
        onPlan();
      }}
      sx={{ display: 'flex', flexDirection: 'column', gap: 1.5 }}
    >
      <Stack direction="row" sx={{ gap: 1.5 }}>
        <TextField
          size="small"
          label="Task"
          value={form.task}
          onChange={(event) => set('task', event.target.value)}
          required
          sx={{ flex: 1 }}
        />
        <TextField
          select
          size="small"
          label="LoA"
          value={form.loa}
          onChange={(event) => set('loa', Number(event.target.value))}
          sx={{ width: 90 }}
        >
          {LOAS.map((loa) => (
            <MenuItem key={loa} value={loa}>
              {loa}
            </MenuItem>
          ))}
        </TextField>
        <TextField
          select
          size="small"
          label="Risk"
          value={form.risk}
          onChange={(event) => set('risk', event.target.value as Risk)}
          sx={{ width: 120 }}
        >
          {RISKS.map((risk) => (
            <MenuItem key={risk} value={risk}>
              {risk}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      <TextField
        size="small"
        label="Input"
        value={form.input}
        onChange={(event) => set('input', event.target.value)}
        multiline
        minRows={2}
        maxRows={6}
      />
      <Stack direction="row" sx={{ alignItems: 'center', gap: 1, flexWrap: 'wrap' }}>
        <FormControlLabel
          control={
            <Switch
              checked={form.stream}
              onChange={(event) => set('stream', event.target.checked)}
              slotProps={{ input: { 'aria-label': 'Stream the answer' } }}
            />
          }
          label="Stream"
        />
        <Box sx={{ flex: 1 }} />
        <Button type="submit" variant="outlined" disabled={busy !== null}>
          {busy === 'plan' ? 'Planning…' : 'Plan'}
        </Button>
        {busy === 'execute' ? (
          <Button variant="contained" color="warning" onClick={onCancel}>
            Cancel run
          </Button>
        ) : (
          <Button variant="contained" onClick={onExecute} disabled={busy !== null}>
            Execute
          </Button>
        )}
      </Stack>
      {lastPlan && <PlanSummary plan={lastPlan} onExplain={onExplain} />}
    </Box>
  );
}
