/** A horizontal bar chart in SVG: readable on a phone, with the numbers written beside the bars and in its label. */
export function BarChart({ title, data }: { title: string; data: Array<{ label: string; value: number }> }) {
  const max = Math.max(...data.map((item) => item.value), 0) || 1;
  const row = 26;
  const labelWidth = 200;
  const width = 460;
  const height = data.length * row + 8;
  const summary = `${title}: ${data.map((item) => `${item.label} ${item.value}`).join(", ")}`;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary} preserveAspectRatio="xMinYMin meet">
        {data.map((item, index) => {
          const barWidth = Math.max(2, ((width - labelWidth - 60) * item.value) / max);
          const y = index * row + 4;
          const label = item.label.length > 28 ? `${item.label.slice(0, 27)}…` : item.label;
          return (
            <g key={item.label}>
              <title>{`${item.label}: ${item.value}`}</title>
              <text x={labelWidth - 6} y={y + 15} text-anchor="end" class="chart-label">{label}</text>
              <rect x={labelWidth} y={y + 2} width={barWidth} height={row - 8} rx="3" class="chart-bar" />
              <text x={labelWidth + barWidth + 6} y={y + 15} class="chart-value">{item.value}</text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
