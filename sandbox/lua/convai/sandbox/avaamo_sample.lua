-- The documented sample response of Avaamo's agent usage API, verbatim.
-- Source: docs.avaamo.com, Analytics API > Usage ("200 Successful request" tab), the query
-- from_date=10/04/2020&to_date=13/04/2020&utc_offset=-25200 (see docs/api-notes.md §2).
-- The sandbox serves this text unchanged for that query.
return [==[
{
  "aggregate_stats": {
    "start_time": 1586502000,
    "end_time": 1586847599,
    "session_count": 8123,
    "messages_count": 50138,
    "unhandled_messages_count": 2297,
    "successful_responses_count": 45736,
    "ambiguous_messages_count": 2105,
    "interventions_count": 0,
    "success_rate_count": 47633,
    "success_rate": 91.22
  },
  "previous_interval_stats": {
    "start_time": 1586156401,
    "end_time": 1586502000,
    "session_count": 15094,
    "messages_count": 82686,
    "unhandled_messages_count": 4745,
    "successful_responses_count": 74013,
    "ambiguous_messages_count": 3928,
    "interventions_count": 0,
    "success_rate_count": 77615,
    "success_rate": 89.51
  },
  "stats": [
    {
      "start_time": 1586502000,
      "end_time": 1586540399.8888888,
      "session_count": 2209,
      "messages_count": 11852,
      "unhandled_messages_count": 525,
      "successful_responses_count": 10731,
      "ambiguous_messages_count": 596,
      "interventions_count": 0,
      "success_rate_count": 11255,
      "success_rate": 90.54
    },
    {
      "start_time": 1586540399.8888888,
      "end_time": 1586578799.7777777,
      "session_count": 490,
      "messages_count": 1927,
      "unhandled_messages_count": 168,
      "successful_responses_count": 1689,
      "ambiguous_messages_count": 70,
      "interventions_count": 0,
      "success_rate_count": 1752,
      "success_rate": 87.65
    },
    {
      "start_time": 1586578799.7777777,
      "end_time": 1586617199.6666667,
      "session_count": 1821,
      "messages_count": 11481,
      "unhandled_messages_count": 414,
      "successful_responses_count": 10579,
      "ambiguous_messages_count": 488,
      "interventions_count": 0,
      "success_rate_count": 11031,
      "success_rate": 92.14
    },
    {
      "start_time": 1586617199.6666667,
      "end_time": 1586655599.5555556,
      "session_count": 592,
      "messages_count": 3956,
      "unhandled_messages_count": 153,
      "successful_responses_count": 3703,
      "ambiguous_messages_count": 100,
      "interventions_count": 0,
      "success_rate_count": 3794,
      "success_rate": 93.6
    },
    {
      "start_time": 1586655599.5555556,
      "end_time": 1586693999.4444444,
      "session_count": 1491,
      "messages_count": 8339,
      "unhandled_messages_count": 433,
      "successful_responses_count": 7575,
      "ambiguous_messages_count": 331,
      "interventions_count": 0,
      "success_rate_count": 7870,
      "success_rate": 90.84
    },
    {
      "start_time": 1586693999.4444444,
      "end_time": 1586732399.3333333,
      "session_count": 1064,
      "messages_count": 4568,
      "unhandled_messages_count": 240,
      "successful_responses_count": 4128,
      "ambiguous_messages_count": 200,
      "interventions_count": 0,
      "success_rate_count": 4316,
      "success_rate": 90.37
    },
    {
      "start_time": 1586732399.3333333,
      "end_time": 1586770799.2222223,
      "session_count": 1429,
      "messages_count": 7031,
      "unhandled_messages_count": 330,
      "successful_responses_count": 6421,
      "ambiguous_messages_count": 280,
      "interventions_count": 0,
      "success_rate_count": 6667,
      "success_rate": 91.32
    },
    {
      "start_time": 1586770799.2222223,
      "end_time": 1586809199.1111112,
      "session_count": 225,
      "messages_count": 985,
      "unhandled_messages_count": 34,
      "successful_responses_count": 911,
      "ambiguous_messages_count": 40,
      "interventions_count": 0,
      "success_rate_count": 949,
      "success_rate": 92.49
    },
    {
      "start_time": 1586809199.1111112,
      "end_time": 1586847599,
      "session_count": 0,
      "messages_count": 0,
      "unhandled_messages_count": 0,
      "successful_responses_count": 0,
      "ambiguous_messages_count": 0,
      "interventions_count": 0,
      "success_rate_count": 0,
      "success_rate": null
    }
  ]
}
]==]
