import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import { count, usd } from '../format';
import { MONO_FONTS } from '../theme';
import type { ModelCounters } from '../types';

const COLUMNS = ['Model', 'RPM', 'TPM', 'USD today', 'Cooling down', 'Healthy'] as const;

/** The counters OPA read for each model when it decided, as recorded in its input. */
export function DecisionCounters({ counters }: { counters: Record<string, ModelCounters> }) {
  const models = Object.keys(counters).sort();
  return (
    <Table size="small" aria-label="Counters read" sx={{ '& td, & th': { px: 0.75, py: 0.25, fontSize: '0.75rem' } }}>
      <TableHead>
        <TableRow>
          {COLUMNS.map((column) => (
            <TableCell key={column} align={column === 'Model' ? 'left' : 'right'}>
              {column}
            </TableCell>
          ))}
        </TableRow>
      </TableHead>
      <TableBody>
        {models.map((model) => {
          const read = counters[model] as ModelCounters;
          return (
            <TableRow key={model} data-model={model}>
              <TableCell component="th" scope="row" sx={{ fontFamily: MONO_FONTS }}>
                {model}
              </TableCell>
              <TableCell align="right" data-field="rpm">
                {count(read.rpm)}
              </TableCell>
              <TableCell align="right" data-field="tpm">
                {count(read.tpm)}
              </TableCell>
              <TableCell align="right" data-field="usd_today">
                {usd(read.usd_today)}
              </TableCell>
              <TableCell align="right" data-field="cooling_down">
                {read.cooling_down ? 'yes' : 'no'}
              </TableCell>
              <TableCell align="right" data-field="healthy" sx={{ color: read.healthy ? undefined : 'warning.main' }}>
                {read.healthy ? 'yes' : 'no'}
              </TableCell>
            </TableRow>
          );
        })}
      </TableBody>
    </Table>
  );
}
