import { describe, expect, test } from 'vitest'
import { rotated } from '../../bench/lib/stats'

describe("rotated: the order of a round's variants", () => {
  test('each round starts one further on, every variant once', () => {
    const names = ['bare', 'layer', 'peer']
    expect([0, 1, 2, 3].map((round) => rotated(names, round))).toEqual([
      ['bare', 'layer', 'peer'],
      ['layer', 'peer', 'bare'],
      ['peer', 'bare', 'layer'],
      ['bare', 'layer', 'peer'],
    ])
    expect(names).toEqual(['bare', 'layer', 'peer'])
  })
})
