import BlockIcon from '@mui/icons-material/Block';
import Box from '@mui/material/Box';
import Chip from '@mui/material/Chip';
import { alpha } from '@mui/material/styles';
import Typography from '@mui/material/Typography';
import { DataGrid, GridRow, type GridColDef, type GridRowProps } from '@mui/x-data-grid';
import type { ModelStat } from '../types';

/** Budget fraction above which a row asks for attention. */
export const BUDGET_ALERT_FRACTION = 0.8;

export type RowAlert = 'window_closed' | 'budget_over_80';

/** Why a row is highlighted (empty when it is not). */
export function rowAlerts(row: ModelStat): RowAlert[] {
  const alerts: RowAlert[] = [];
  if (row.window === 'closed') alerts.push('window_closed');
  if (row.budgetFrac > BUDGET_ALERT_FRACTION) alerts.push('budget_over_80');
  return alerts;
}

function compact(value: number | null): string {
  if (value === null) return '∞';
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(value % 1_000_000 ? 1 : 0)}M`;
  if (value >= 1_000) return `${(value / 1_000).toFixed(value % 1_000 ? 1 : 0)}k`;
  return String(value);
}

function millis(value: number | null): string {
  return value === null ? '—' : `${Math.round(value)} ms`;
}

function WindowCell({ row }: { row: ModelStat }) {
  const closed = row.window === 'closed';
  return (
    <Box sx={{ display: 'flex', alignItems: 'center', gap: 1, minWidth: 0, height: '100%' }}>
      <Chip
        size="small"
        icon={closed ? <BlockIcon /> : undefined}
        label={closed ? 'closed' : 'open'}
        color={closed ? 'error' : 'success'}
        variant={closed ? 'filled' : 'outlined'}
      />
      {row.windowDetail && (
        <Typography variant="caption" noWrap title={row.windowDetail} sx={{ opacity: 0.8 }}>
          {row.windowDetail}
        </Typography>
      )}
    </Box>
  );
}

function BudgetCell({ row }: { row: ModelStat }) {
  if (row.usdCap === null) {
    return <span title="no daily cap">—</span>;
  }
  const percent = Math.round(row.budgetFrac * 100);
  const over = row.budgetFrac > BUDGET_ALERT_FRACTION;
  return (
    <Box
      component="span"
      title={`$${row.usdToday.toFixed(2)} of $${row.usdCap.toFixed(2)} today`}
      sx={{ color: over ? 'warning.main' : 'inherit', fontWeight: over ? 700 : 400 }}
    >
      {over ? `⚠ ${percent}%` : `${percent}%`}
    </Box>
  );
}

/** A matrix row: the live stats plus the deferred jobs queued for the model. */
type MatrixRow = ModelStat & { queued: number };

const columns: GridColDef<MatrixRow>[] = [
  { field: 'id', headerName: 'Model', flex: 1, minWidth: 170 },
  { field: 'class', headerName: 'Class', width: 80 },
  {
    field: 'window',
    headerName: 'Window',
    flex: 1.4,
    minWidth: 240,
    renderCell: ({ row }) => <WindowCell row={row} />,
  },
  {
    field: 'rpm',
    headerName: 'RPM / cap',
    width: 100,
    renderCell: ({ row }) => `${row.rpm} / ${compact(row.rpmCap)}`,
  },
  {
    field: 'tpm',
    headerName: 'TPM / cap',
    width: 110,
    renderCell: ({ row }) => `${compact(row.tpm)} / ${compact(row.tpmCap)}`,
  },
  {
    field: 'budgetFrac',
    headerName: 'Budget',
    width: 90,
    renderCell: ({ row }) => <BudgetCell row={row} />,
  },
  { field: 'p95ms', headerName: 'p95', width: 80, renderCell: ({ row }) => millis(row.p95ms) },
  { field: 'ttfbms', headerName: 'TTFB', width: 80, renderCell: ({ row }) => millis(row.ttfbms) },
  {
    field: 'coolingDown',
    headerName: 'Cooling',
    width: 100,
    renderCell: ({ row }) =>
      row.coolingDown ? <Chip size="small" color="warning" label="cooling down" /> : '—',
  },
  {
    field: 'queued',
    headerName: 'Queued jobs',
    width: 110,
    renderCell: ({ row }) => (row.queued ? <Chip size="small" color="info" label={`${row.queued} waiting`} /> : '—'),
  },
  {
    field: 'healthy',
    headerName: 'Health',
    width: 100,
    renderCell: ({ row }) => (
      <Chip
        size="small"
        variant="outlined"
        color={row.healthy ? 'success' : 'error'}
        label={row.healthy ? 'healthy' : '✖ unhealthy'}
      />
    ),
  },
];

/** A grid row carrying `data-alert` (space-separated reasons) so tests and CSS can find it. */
function AlertingRow(props: GridRowProps) {
  const alerts = rowAlerts(props.row as ModelStat);
  return alerts.length ? <GridRow {...props} data-alert={alerts.join(' ')} /> : <GridRow {...props} />;
}

interface ModelMatrixProps {
  rows: ModelStat[];
  /** When false the grid renders every row and column (for jsdom, which measures nothing). */
  virtualize?: boolean;
  loading?: boolean;
  /** Deferred jobs queued per model (GET /jobs `waiting`); absent: none shown. */
  queued?: Record<string, { queued: number }>;
}

/** Every model the policy knows, with its live counters; rows that need attention stand out. */
export function ModelMatrix({ rows, virtualize = true, loading = false, queued = {} }: ModelMatrixProps) {
  const withQueue: MatrixRow[] = rows.map((row) => ({ ...row, queued: queued[row.id]?.queued ?? 0 }));
  return (
    <Box sx={{ width: '100%', minWidth: 0 }}>
      <DataGrid
        aria-label="Model matrix"
        rows={withQueue}
        columns={columns}
        density="compact"
        autoHeight
        loading={loading}
        hideFooter
        disableRowSelectionOnClick
        disableColumnMenu
        disableVirtualization={!virtualize}
        getRowClassName={({ row }) =>
          rowAlerts(row)
            .map((alert) => `matrix-row--${alert}`)
            .join(' ')
        }
        slots={{ row: AlertingRow }}
        localeText={{ noRowsLabel: 'No model stats yet — waiting for the live feed' }}
        sx={(theme) => ({
          borderRadius: 2,
          '& [data-alert]': {
            bgcolor: alpha(theme.palette.warning.main, 0.1),
            boxShadow: `inset 4px 0 0 ${theme.palette.warning.main}`,
          },
          '& [data-alert~="window_closed"]': {
            bgcolor: alpha(theme.palette.error.main, 0.14),
            boxShadow: `inset 4px 0 0 ${theme.palette.error.main}`,
          },
          '& [data-alert]:hover': { bgcolor: alpha(theme.palette.warning.main, 0.18) },
        })}
      />
    </Box>
  );
}
