/**
 * The venues each market keeps for `venue` parameters: a rep picks one by id, never types an address, so
 * every venue an HCP reads was reviewed once. Kept here until the rulebook carries a `venues` list per
 * market; the shape is the one the rulebook will use.
 */
export interface Venue {
  id: string;
  /** As the HCP reads it in the message. */
  name: string;
}

const VENUES: Readonly<Record<string, readonly Venue[]>> = {
  BR: [
    { id: 'br-sp-office', name: 'Escritório São Paulo — Av. Paulista, 1000' },
    { id: 'br-sp-hotel-unique', name: 'Hotel Unique, São Paulo' },
    { id: 'br-rj-office', name: 'Escritório Rio de Janeiro — Praia de Botafogo, 300' },
    { id: 'br-online', name: 'Online (link enviado na confirmação)' },
  ],
  ES: [
    { id: 'es-mad-office', name: 'Oficina Madrid — Paseo de la Castellana, 95' },
    { id: 'es-bcn-congress', name: 'Centro de Convenciones Internacional de Barcelona' },
    { id: 'es-online', name: 'En línea (enlace en la confirmación)' },
  ],
  IN: [
    { id: 'in-mum-office', name: 'Mumbai Office — Bandra Kurla Complex' },
    { id: 'in-del-hotel', name: 'The Leela Palace, New Delhi' },
    { id: 'in-online', name: 'Online (link sent with the confirmation)' },
  ],
};

/** The venues a market keeps (empty for a market with none). */
export function venuesOf(market: string): readonly Venue[] {
  return VENUES[market] ?? [];
}
